import type { SpanIds } from "../tracing/types.js";

/** The chat request agents pass to `ctx.llm`: OpenAI's chat-completions body. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool" | "developer";
  content: string | null | unknown[];
  name?: string;
  tool_call_id?: string;
  tool_calls?: unknown[];
}

export interface ChatRequest {
  /** `provider/model` (e.g. `sim/gpt-4o-mini`), a model alias from the config, or a model of the default provider. */
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  temperature?: number;
  tools?: unknown[];
  tool_choice?: unknown;
  response_format?: unknown;
  [extra: string]: unknown;
}

export interface ToolCall {
  id: string;
  name: string;
  /** Parsed JSON arguments, or the raw string when the model produced invalid JSON. */
  arguments: unknown;
}

/** What `ctx.llm` returns and journals: the answer and its usage, not the whole response. */
export interface ChatResult {
  id: string;
  provider: string;
  model: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: string | null;
  usage: { inputTokens: number; outputTokens: number };
  latencyMs: number;
}

export interface LlmCallOptions {
  signal: AbortSignal;
  runId?: string;
  agent?: string;
  /** Attribution for the gateway's accounting; all optional. */
  project?: string;
  step?: string;
  feature?: string;
  tenant?: string;
  /** Serve from / store in the gateway's exact-match cache for this long. */
  cacheTtlSeconds?: number;
  /** The span the call's span is a child of (the step's; src/tracing). */
  trace?: SpanIds;
}

/** Anything that can serve `ctx.llm`: the direct provider adapter now, the gateway later. */
export interface LlmClient {
  chat(request: ChatRequest, opts: LlmCallOptions): Promise<ChatResult>;
}
