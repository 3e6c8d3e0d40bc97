/**
 * What the modules of one gateway call hand each other: the call as asked, the answer,
 * the shared resources, and why an attempt at a target got no answer. Types only — every
 * import here is `import type`, so this module loads nothing and any file of the gateway
 * may import it without making a cycle (test/architecture/import-cycles.test.ts).
 */

import type { SpanIds, Tracing } from "../tracing/types.js";
import type { PriceTable } from "./accounting/pricing.js";
import type { Attribution, CallRecorder } from "./accounting/recorder.js";
import type { Breaker } from "./breaker.js";
import type { ResponseCache } from "./cache.js";
import type { GatewaySettings, Router, Target, WireFormat } from "./config.js";
import type { OutputEstimator } from "./estimator.js";
import type { CapTable } from "./limiter/caps.js";
import type { QuotaUnavailable } from "./limiter/key-limiter.js";
import type { Limiter } from "./limiter/limiter.js";
import type { Endpoint } from "./providers/endpoints.js";
import type { Usage } from "./providers/usage.js";

export interface GatewayCall {
  /** The wire format the caller speaks, and answers come back in. */
  format: WireFormat;
  /**
   * What is asked: a model's answer (default) or embeddings, which only OpenAI-format
   * targets serve (others are skipped in failover).
   */
  endpoint?: Endpoint | undefined;
  /** The caller's body; `model` is what it asked for (an alias or provider/model). */
  body: Record<string, unknown>;
  /**
   * `body` as the caller sent it, when at hand: sent upstream as is when nothing in it
   * changes (same wire format, the model named as the provider names it), instead of
   * serialising it again.
   */
  rawBody?: string | undefined;
  attribution: Attribution;
  /** How long the caller waits for quota; 0 answers 429 at once when there is none. */
  waitMs: number;
  /** Cache this call (seconds); otherwise the alias's setting applies. */
  cacheTtlSeconds?: number | undefined;
  signal: AbortSignal;
  /** Caller headers forwarded upstream (anthropic-version, anthropic-beta). */
  passHeaders?: Record<string, string>;
  /** The span this call's span is a child of: the step's, or the caller's traceparent. */
  trace?: SpanIds | undefined;
}

export type GatewayAnswer =
  | {
      kind: "json";
      status: number;
      /** The body as sent to the caller. */
      text: string;
      headers: Record<string, string>;
      target: Target | undefined;
      usage: Usage | undefined;
    }
  | {
      kind: "stream";
      status: 200;
      stream: ReadableStream<Uint8Array>;
      headers: Record<string, string>;
    };

/** What every call uses, built once per gateway (gateway.ts). */
export interface Resources {
  router: Router;
  limiter: Limiter;
  caps: CapTable;
  breaker(target: Target): Breaker;
  cache: ResponseCache;
  recorder: CallRecorder;
  prices: PriceTable;
  estimator: OutputEstimator;
  settings: GatewaySettings;
  /** A span per call (call-span.ts) when set; undefined records none. */
  tracing: Tracing | undefined;
}

/** Why one attempt at one target got no answer. */
export type Failure =
  | { kind: "quota"; target: Target; error: QuotaUnavailable }
  | { kind: "circuit"; target: Target; retryInMs: number }
  | { kind: "upstream"; target: Target; status: number; retryAfterMs: number | undefined }
  | { kind: "timeout" | "network"; target: Target }
  /** The target cannot serve this kind of call (embeddings from an Anthropic-format target). */
  | { kind: "unsupported"; target: Target; what: string };

/** One attempt at one target: the caller's answer, or why there is none. */
export type Attempt = { answer: GatewayAnswer } | { failure: Failure };
