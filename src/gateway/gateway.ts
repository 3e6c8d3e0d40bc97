/**
 * The AI gateway: every provider call Outlast makes goes through here — `ctx.llm`
 * in-process through `chat()`, any SDK over HTTP through the routes `mountGateway` adds.
 * Both take the same path (pipeline.ts). See ARCHITECTURE.md beside this file.
 */

import { RateLimitedError, RetryableError, TerminalError } from "../errors.js";
import type { ChatRequest, ChatResult, LlmCallOptions, LlmClient, ToolCall } from "../llm/types.js";
import type { Db } from "../store/db.js";
import type { Tracing } from "../tracing/types.js";
import { createLogger, type Logger } from "../util/log.js";
import { PriceTable } from "./accounting/pricing.js";
import { type Attribution, CallRecorder } from "./accounting/recorder.js";
import { queryUsage, type UsageQuery, type UsageRow } from "./accounting/usage-query.js";
import { Breaker } from "./breaker.js";
import { ResponseCache } from "./cache.js";
import type { GatewayAnswer, GatewayCall, Resources } from "./call-types.js";
import {
  type GatewayConfig,
  type GatewayConfigInput,
  parseGatewayConfig,
  Router,
  type Target,
} from "./config.js";
import { GatewayError } from "./errors.js";
import { OutputEstimator } from "./estimator.js";
import { CapTable } from "./limiter/caps.js";
import { isUnlimited } from "./limiter/dimensions.js";
import { Limiter } from "./limiter/limiter.js";
import type { BucketReader } from "./limiter/store.js";
import { runCall, unknownModel } from "./pipeline.js";
import { countInput } from "./tokens.js";

export interface GatewayOptions {
  db: Db;
  /** The `providers`, `models` and `gateway` parts of an Outlast config. */
  config: GatewayConfigInput;
  log?: Logger;
  /** A span per model call (src/tracing); default none. */
  tracing?: Tracing | undefined;
}

export type { UsageQuery, UsageRow };

export class Gateway implements LlmClient {
  readonly config: GatewayConfig;
  private readonly router: Router;
  private readonly limiter: Limiter;
  private readonly breakers = new Map<string, Breaker>();
  private readonly cache: ResponseCache;
  private readonly recorder: CallRecorder;
  private readonly resources: Resources;
  /** `gateway.caps`, for `/v1/quota`. */
  readonly caps: CapTable;
  private started: Promise<void> | undefined;
  private ready = false;

  constructor(
    private readonly db: Db,
    config: GatewayConfigInput,
    readonly log: Logger,
    /** Spans of model calls; undefined records none. */
    readonly tracing?: Tracing | undefined,
  ) {
    this.config = parseGatewayConfig(config);
    this.router = new Router(this.config);
    this.caps = new CapTable(this.config.gateway.caps);
    this.limiter = new Limiter(db, log);
    this.cache = new ResponseCache(db, log);
    this.recorder = new CallRecorder(db, log);
    const { failures, cooldownMs } = this.config.gateway.breaker;
    this.resources = {
      router: this.router,
      limiter: this.limiter,
      caps: this.caps,
      breaker: (t: Target) => {
        let b = this.breakers.get(t.id);
        if (!b) {
          b = new Breaker(failures, cooldownMs);
          this.breakers.set(t.id, b);
        }
        return b;
      },
      cache: this.cache,
      recorder: this.recorder,
      prices: new PriceTable(this.config.gateway.pricing),
      estimator: new OutputEstimator(),
      settings: this.config.gateway,
      tracing,
    };
  }

  /** Subscribes to other processes' pauses and freed slots. Called by the first call too. */
  start(): Promise<void> {
    this.started ??= this.limiter.start().then(() => {
      this.ready = true;
    });
    return this.started;
  }

  /** One call in a wire format; what the HTTP routes use. Throws GatewayError. */
  call(call: GatewayCall): Promise<GatewayAnswer> {
    if (this.ready) return runCall(this.resources, call);
    return this.start().then(() => runCall(this.resources, call));
  }

  /**
   * `ctx.llm`: the same path without the HTTP hop. Waits up to `gateway.llmMaxWaitMs`
   * for quota; a longer wait throws RateLimitedError so the engine parks the run as
   * `throttled` (no attempt spent) instead of holding a worker slot.
   *
   * @example
   * const r = await gateway.chat({ model: "fast", messages: [{ role: "user", content: "hi" }] },
   *   { signal, runId, agent: "research", feature: "summaries" });
   */
  async chat(request: ChatRequest, opts: LlmCallOptions): Promise<ChatResult> {
    const attribution: Attribution = {
      project: opts.project ?? "default",
      agent: opts.agent,
      runId: opts.runId,
      step: opts.step,
      feature: opts.feature,
      tenant: opts.tenant,
    };
    const t0 = performance.now();
    let answer: GatewayAnswer;
    try {
      answer = await this.call({
        format: "openai",
        body: { ...request, stream: false },
        attribution,
        waitMs: this.config.gateway.llmMaxWaitMs,
        cacheTtlSeconds: opts.cacheTtlSeconds,
        signal: opts.signal,
        trace: opts.trace,
      });
    } catch (err) {
      throw toEngineError(err);
    }
    if (answer.kind !== "json")
      throw new TerminalError("gateway answered a stream to a plain call");
    if (answer.status >= 400) {
      throw new TerminalError(
        `${answer.target?.id ?? request.model}: HTTP ${answer.status}: ${answer.text.slice(0, 500)}`,
        {
          code: "OUTLAST_PROVIDER_REJECTED",
        },
      );
    }
    return { ...toChatResult(answer), latencyMs: Math.round(performance.now() - t0) };
  }

  /**
   * Input tokens of an Anthropic messages body, as the gateway counts them for its
   * reservations; `POST /v1/messages/count_tokens`. The model must route somewhere (404
   * otherwise). Nothing is sent upstream or billed; the call is recorded with 0 tokens so
   * `/v1/usage` shows who asked.
   */
  countTokens(body: Record<string, unknown>, attribution: Attribution): number {
    const requested = body.model as string;
    if (!this.router.resolve(requested)) throw unknownModel(this.router, requested);
    const input = countInput("anthropic", body);
    this.recorder.record({
      attribution,
      requested,
      stream: false,
      at: new Date(),
      provider: undefined,
      model: undefined,
      outcome: "ok",
      status: 200,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
      costUsd: 0,
      latencyMs: 0,
      upstreamMs: undefined,
      attempts: 0,
      errorCode: undefined,
    });
    return input;
  }

  /** Aliases and configured models, for `GET /v1/models`. */
  models(): string[] {
    return this.router.modelNames();
  }

  /** The targets a model name routes to (empty when it routes nowhere), for admission. */
  targetsOf(model: string): Target[] {
    return this.router.resolve(model)?.targets ?? [];
  }

  /**
   * The limiter's shared buckets, read without taking (quota admission, `GET /v1/quota`):
   * refilled as the next take would find them.
   */
  get buckets(): BucketReader {
    return this.limiter.store;
  }

  /** Every configured target with limits: what `GET /v1/quota` reports. */
  limitedTargets(): Target[] {
    const seen = new Map<string, Target>();
    for (const name of this.router.modelNames()) {
      for (const t of this.targetsOf(name)) if (!isUnlimited(t.limits)) seen.set(t.limitKey, t);
    }
    return [...seen.values()];
  }

  /** Usage totals between `from` (default: 30 days ago) and `to` (default: now). */
  usage(q: UsageQuery = {}): Promise<UsageRow[]> {
    return queryUsage(this.db, q);
  }

  /** Waits until accounting rows, cache entries and limiter writes so far are stored. */
  async flush(): Promise<void> {
    // An answered call's bookkeeping runs one turn after its answer (answers.ts, behind):
    // immediates run in order, so once this one has run, every earlier call's has.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.all([this.recorder.flush(), this.cache.drain(), this.limiter.store.drain()]);
  }

  /** Gives unused quota back to the shared buckets and stores what is pending. */
  async close(): Promise<void> {
    await this.flush();
    await this.limiter.close();
  }
}

/**
 * Creates the gateway over the store. Call `close()` before closing the database.
 *
 * @example
 * const gateway = createGateway({ db, config });
 * const worker = new Worker({ ...opts, llm: gateway });
 * mountGateway(app, gateway);
 */
export function createGateway(opts: GatewayOptions): Gateway {
  return new Gateway(
    opts.db,
    opts.config,
    opts.log ?? createLogger({ base: { component: "gateway" } }),
    opts.tracing,
  );
}

/** What the engine should do with a failed gateway call (see src/errors.ts). */
function toEngineError(err: unknown): unknown {
  if (!(err instanceof GatewayError)) return err;
  const retryAfterMs = err.opts.retryAfterMs;
  switch (err.code) {
    case "OUTLAST_GATEWAY_RATE_LIMITED":
      return new RateLimitedError(err.message, {
        retryAfterMs: retryAfterMs ?? 1000,
        cause: err,
        ...(err.opts.limit ? { limit: err.opts.limit } : {}),
      });
    case "OUTLAST_GATEWAY_UPSTREAM_FAILED":
    case "OUTLAST_GATEWAY_UPSTREAM_UNAVAILABLE":
    case "OUTLAST_GATEWAY_STORE_UNAVAILABLE":
      return new RetryableError(err.message, { code: err.code, retryAfterMs, cause: err });
    default:
      return new TerminalError(err.message, { code: err.code, cause: err });
  }
}

function toChatResult(answer: Extract<GatewayAnswer, { kind: "json" }>): ChatResult {
  const json = JSON.parse(answer.text) as {
    id?: string;
    model?: string;
    choices?: {
      finish_reason?: string | null;
      message?: {
        content?: string | null;
        tool_calls?: { id: string; function: { name: string; arguments: string } }[];
      };
    }[];
  };
  const choice = json.choices?.[0];
  return {
    id: json.id ?? "",
    provider: answer.target?.provider.name ?? "cache",
    model: answer.target?.model ?? json.model ?? "",
    content: choice?.message?.content ?? null,
    toolCalls: (choice?.message?.tool_calls ?? []).map(toToolCall),
    finishReason: choice?.finish_reason ?? null,
    usage: { inputTokens: answer.usage?.input ?? 0, outputTokens: answer.usage?.output ?? 0 },
    latencyMs: 0,
  };
}

function toToolCall(tc: { id: string; function: { name: string; arguments: string } }): ToolCall {
  let args: unknown = tc.function.arguments;
  try {
    args = JSON.parse(tc.function.arguments);
  } catch {
    // keep the raw string: the model produced invalid JSON
  }
  return { id: tc.id, name: tc.function.name, arguments: args };
}
