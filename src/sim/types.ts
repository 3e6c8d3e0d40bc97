/**
 * Public configuration and result types of the simulated provider.
 * Everything here is re-exported from `src/sim/index.ts`.
 */

/**
 * What a scripted model answers (see docs/simulator.md). Tool calls are only used when the
 * request declares tools. `json`: a value sent as the reply's text, JSON-encoded, or
 * `true` for a value made from the request's `response_format` schema. `error`: the
 * request is answered with this HTTP status and message in the API's own error shape.
 */
export type SimReply = {
  text?: string;
  toolCalls?: { name: string; arguments: unknown }[];
  json?: unknown;
  error?: { status: number; message: string };
};

/**
 * What a reply script sees of a request. Nothing in it depends on how many calls came
 * before, so a retried or replayed call gets the same answer.
 */
export interface SimReplyRequest {
  model: string;
  messages: unknown[];
  /** Names of the tools the request declares (empty when it declares none). */
  tools: string[];
  /** Tool results the conversation already carries (OpenAI `tool` messages, Anthropic `tool_result` blocks). */
  toolResults: number;
  /** The JSON schema of OpenAI's `response_format` (`{}` for `json_object`), when asked. */
  responseSchema: unknown;
  /** Text of the last user message. */
  lastUserText: string;
}

/** Limits and behaviour of one simulated model. Every limit is optional; absent means unlimited. */
export interface SimModelConfig {
  name: string;
  /** Requests per minute. */
  rpm?: number;
  /** Tokens (input + output) per minute. */
  tpm?: number;
  /** Tokens (input + output) per day. */
  tpd?: number;
  /** Input tokens per minute (Anthropic-style split). */
  itpm?: number;
  /** Output tokens per minute (Anthropic-style split), estimated from max_tokens then reconciled. */
  otpm?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Uniform random latency range [min, max] in ms, applied before answering. Default [0, 0]. */
  latencyMs?: [number, number];
  /** Probability (0..1) of an injected 500 (OpenAI) / 529 (Anthropic). */
  errorRate?: number;
  /** Probability (0..1) that the request is held unanswered until the client gives up. */
  timeoutRate?: number;
  /** Scripted answer; without it the reply is derived deterministically from the last user message. */
  reply?: (req: SimReplyRequest) => SimReply;
  /** Length in tokens of the generated default reply when max_tokens allows. Default 32. */
  outputTokens?: number;
}

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  models?: SimModelConfig[];
  /** Applied to any model name not listed: unknown models are served with these settings. */
  defaults?: Omit<SimModelConfig, "name">;
  /** Seed of the PRNG behind latency and injected failures. Default 1, so runs are reproducible. */
  seed?: number;
}

/** Counters of one model, or of the whole simulator. */
export interface SimCounters {
  /** Requests received on the model endpoints, whatever their outcome. */
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** 429s sent. */
  rateLimited: number;
  /** Injected 5xx sent (and reply scripts that threw). */
  errors: number;
  /** Requests deliberately held unanswered. */
  timeouts: number;
  /** 400s sent. */
  badRequests: number;
  /** Tokens billed on 200 answers. */
  tokens: { input: number; output: number };
}

export interface SimStats extends SimCounters {
  /** Requests admitted and not yet finished. */
  inFlight: number;
  byModel: Record<string, SimCounters>;
}

export interface Simulator {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:1234`. */
  url: string;
  port: number;
  stats(): SimStats;
  /** Clears counters, refills every limit bucket and reseeds the PRNG. */
  reset(): void;
  /** Stops listening and drops open connections (held "timeout" requests included). */
  close(): Promise<void>;
}
