/**
 * One gateway call, whatever its entry (HTTP or `ctx.llm`):
 *
 *   resolve model ─✗─▶ 404
 *   cache lookup (opt-in) ─hit─▶ answer, no quota, recorded as cache_hit
 *   reserve from gateway.caps (project, feature, tenant) ─✗ by the deadline─▶ 429
 *   round 0..retries:
 *     for each target of the alias, in order:
 *       breaker open? ─▶ skip
 *       reserve quota (input counted + output bound) ─✗ (no wait when more targets) ─▶ next
 *       send ─▶ 2xx: reconcile, account, answer (streams: reconcile at the end)
 *               429: refund, pause the key for every process, next target
 *               5xx / timeout / network: breaker failure, next target
 *               other 4xx: the caller's fault — answered as the provider said
 *     all quota-blocked? wait on the soonest target up to the caller's deadline
 *     backoff with full jitter (at least the largest retry-after seen)
 *   ─▶ 429 (quota), 502 (targets answered errors) or 503 (none reachable), naming the targets
 *   caps charged what the attempts were billed, once the last attempt's permit is released
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { PriceTable } from "./accounting/pricing.js";
import type { Attribution, CallRecorder } from "./accounting/recorder.js";
import { type AttemptContext, behind, complete, record, relay } from "./answers.js";
import type { Breaker } from "./breaker.js";
import { backoffMs } from "./breaker.js";
import { ResponseCache } from "./cache.js";
import type { GatewaySettings, Router, Target, WireFormat } from "./config.js";
import { GatewayError } from "./errors.js";
import type { OutputEstimator } from "./estimator.js";
import {
  capRefusal,
  type Failure,
  finalError,
  passThroughError,
  storeUnavailable,
} from "./failures.js";
import { cannotServe } from "./formats/support.js";
import { CapHold, type CapTable, CapUnavailable } from "./limiter/caps.js";
import { amountsFor, zero } from "./limiter/dimensions.js";
import { remainingFromHeaders } from "./limiter/headers.js";
import { type Permit, QuotaUnavailable } from "./limiter/key-limiter.js";
import type { Limiter } from "./limiter/limiter.js";
import { type Endpoint, sendToTarget } from "./providers/endpoints.js";
import { type UpstreamReply, UpstreamTimeout } from "./providers/transport.js";
import type { Usage } from "./providers/usage.js";
import { retryAfterMs } from "./retry-after.js";
import { countEmbeddingInput, countInput, outputBound } from "./tokens.js";
import { anthropicToOpenaiRequest, openaiToAnthropicRequest } from "./translate.js";

type Obj = Record<string, unknown>;

/** How long retries of failed upstream calls may take, whatever the quota wait. */
const UPSTREAM_RETRY_BUDGET_MS = 10_000;

export interface GatewayCall {
  /** The wire format the caller speaks, and answers come back in. */
  format: WireFormat;
  /**
   * What is asked: a model's answer (default) or embeddings, which only OpenAI-format
   * targets serve (others are skipped in failover).
   */
  endpoint?: Endpoint | undefined;
  /** The caller's body; `model` is what it asked for (an alias or provider/model). */
  body: Obj;
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
}

type Attempt = { answer: GatewayAnswer } | { failure: Failure };

export async function runCall(r: Resources, call: GatewayCall): Promise<GatewayAnswer> {
  const started = performance.now();
  const requested = call.body.model as string;
  const route = r.router.resolve(requested);
  const stream = call.body.stream === true;
  if (!route) throw unknownModel(r.router, requested);

  const ttl = call.cacheTtlSeconds ?? route.cacheTtlSeconds;
  const cacheKey = ttl
    ? ResponseCache.key(call.endpoint === "embeddings" ? "embeddings" : call.format, call.body)
    : undefined;
  if (cacheKey) {
    const hit = await r.cache.get(cacheKey);
    if (hit) {
      record(
        { r, call, started, attempts: 0, sentAt: undefined },
        "cache_hit",
        200,
        undefined,
        hit.usage,
      );
      const headers = {
        "x-outlast-cache": "hit",
        "x-outlast-target": `${hit.provider}/${hit.model}`,
      };
      if (stream) {
        const bytes = new TextEncoder().encode(hit.body);
        return {
          kind: "stream",
          status: 200,
          headers,
          stream: new ReadableStream({
            start(c) {
              c.enqueue(bytes);
              c.close();
            },
          }),
        };
      }
      return {
        kind: "json",
        status: 200,
        text: hit.body,
        headers,
        target: undefined,
        usage: hit.usage,
      };
    }
  }

  const ctx: AttemptContext = {
    r,
    call,
    route,
    stream,
    cacheKey,
    ttl,
    started,
    attempts: 0,
    sentAt: undefined,
  };
  const deadline = Date.now() + call.waitMs;
  // Without caps configured, no extra await on the way (the common case).
  if (r.caps.empty) return rounds(ctx, deadline);
  ctx.caps = await holdCaps(ctx, deadline);
  try {
    return await rounds(ctx, deadline);
  } finally {
    ctx.caps?.end();
  }
}

/** The 404 for a model name that routes nowhere, naming what does. */
export function unknownModel(router: Router, requested: string): GatewayError {
  return new GatewayError(
    404,
    "OUTLAST_GATEWAY_UNKNOWN_MODEL",
    `model "${requested}" is not an alias (${router.modelNames().join(", ") || "none configured"}) nor provider/model of a configured provider (${router.providerNames().join(", ") || "none"})`,
    { param: "model" },
  );
}

/** Reserves the call's share of every cap that applies to it, or throws its 429. */
async function holdCaps(ctx: AttemptContext, deadline: number): Promise<CapHold | undefined> {
  const { r, call, route } = ctx;
  const caps = r.caps.for(call.attribution);
  if (caps.length === 0) return undefined;
  const input = inputOf(call);
  const output = outputOf(r, call, route.targets[0] as Target);
  try {
    return await CapHold.acquire(r.limiter, caps, amountsFor(input, output), deadline, call.signal);
  } catch (err) {
    if (call.signal.aborted) throw err;
    throw recordFailure(
      ctx,
      err instanceof CapUnavailable ? capRefusal(err, input, output) : storeUnavailable(err),
    );
  }
}

/** The accounting row of a call that ends in `err`, which is returned. */
function recordFailure(ctx: AttemptContext, err: GatewayError): GatewayError {
  record(
    ctx,
    err.status === 429 ? "rate_limited" : "upstream_error",
    err.status,
    undefined,
    undefined,
    err.code,
  );
  return err;
}

async function rounds(ctx: AttemptContext, deadline: number): Promise<GatewayAnswer> {
  const { r, route } = ctx;
  // Upstream failures are retried even for callers that will not wait for quota.
  const retryDeadline = Math.max(deadline, Date.now() + UPSTREAM_RETRY_BUDGET_MS);
  const failures: Failure[] = [];
  for (let round = 0; round <= r.settings.retries; round++) {
    if (round > 0) {
      const hinted = Math.max(
        0,
        ...failures.map((f) => (f.kind === "upstream" ? (f.retryAfterMs ?? 0) : 0)),
      );
      const wait = Math.max(hinted, backoffMs(round - 1));
      if (Date.now() + wait > retryDeadline) break;
      await sleep(wait, undefined, {
        signal: ctx.call.signal,
      });
    }
    const roundFailures = [] as Failure[];
    const many = route.targets.length > 1;
    for (const target of route.targets) {
      // With more targets, one without quota now is passed over for the next.
      const res = await attempt(ctx, target, many ? Date.now() : deadline);
      if ("answer" in res) return res.answer;
      roundFailures.push(res.failure);
    }
    // A target that cannot serve the call is skipped: it neither fails nor waits.
    const usable = roundFailures.filter((f) => f.kind !== "unsupported");
    if (usable.length === 0) {
      failures.push(...roundFailures);
      break;
    }
    if (many && !usable.some((f) => f.kind !== "quota" && f.kind !== "circuit")) {
      const soonest = roundFailures
        .filter((f): f is Extract<Failure, { kind: "quota" }> => f.kind === "quota")
        .sort((a, b) => a.error.retryAfterMs - b.error.retryAfterMs)[0];
      if (soonest && Date.now() + soonest.error.retryAfterMs <= deadline) {
        const res = await attempt(ctx, soonest.target, deadline);
        if ("answer" in res) return res.answer;
        roundFailures.push(res.failure);
      }
    }
    failures.push(...roundFailures);
    // Waiting for quota already used the caller's deadline: another round cannot help.
    if (usable.every((f) => f.kind === "quota")) break;
  }
  throw recordFailure(ctx, finalError(failures, route));
}

async function attempt(ctx: AttemptContext, target: Target, waitUntil: number): Promise<Attempt> {
  const { r, call, stream } = ctx;
  const breaker = r.breaker(target);
  if (!breaker.allow()) {
    return { failure: { kind: "circuit", target, retryInMs: breaker.retryInMs() } };
  }
  const upstreamFormat = target.provider.type;
  const unsupported = cannotServe(call, target);
  if (unsupported !== undefined) {
    breaker.neutral();
    return { failure: { kind: "unsupported", target, what: unsupported } };
  }
  const input = inputOf(call);
  const output = outputOf(r, call, target);
  const reserved = amountsFor(input, output);
  let permit: Permit;
  try {
    permit = await r.limiter
      .key(target.limitKey, target.limits)
      .acquire(reserved, waitUntil, call.signal);
    // What the provider bills this attempt is charged to the call's caps too.
    if (ctx.caps) permit = ctx.caps.wrap(permit);
  } catch (err) {
    breaker.neutral();
    if (err instanceof QuotaUnavailable) {
      if (err.tooLarge) {
        throw new GatewayError(
          429,
          "OUTLAST_GATEWAY_TOO_LARGE",
          `${err.message} (input ${input} tokens, output bound ${output})`,
        );
      }
      return { failure: { kind: "quota", target, error: err } };
    }
    if (call.signal.aborted) throw err;
    throw storeUnavailable(err);
  }

  const body = upstreamBody(call, target);
  const sentAt = performance.now();
  ctx.sentAt = sentAt;
  ctx.attempts++;
  let reply: UpstreamReply;
  try {
    reply = await sendToTarget(target, body, stream, call.signal, call.passHeaders, call.endpoint);
  } catch (err) {
    if (call.signal.aborted) {
      permit.release(null);
      throw err;
    }
    breaker.failure();
    if (err instanceof UpstreamTimeout) {
      // The provider may have admitted and billed it: keep the reservation charged.
      permit.release(null);
      return { failure: { kind: "timeout", target } };
    }
    permit.release(zero());
    return { failure: { kind: "network", target } };
  }
  const headersAfterMs = performance.now() - sentAt;
  behind(() => {
    const remaining = remainingFromHeaders(reply.headers);
    if (remaining) r.limiter.store.observe(target.limitKey, remaining, headersAfterMs);
  });

  const status = reply.status;
  if (status >= 200 && status < 300) {
    if (stream) {
      breaker.success();
      return { answer: relay(ctx, target, reply, permit, input) };
    }
    let raw: string;
    try {
      raw = await reply.text();
    } catch (err) {
      // It answered, so it may have billed the call: keep the reservation charged.
      permit.release(null);
      if (call.signal.aborted) throw err;
      breaker.failure();
      return { failure: { kind: "network", target } };
    }
    breaker.success();
    return { answer: complete(ctx, target, reply, raw, permit) };
  }
  const text = await reply.text().catch(() => "");
  if (status === 429) {
    breaker.neutral();
    // Providers do not bill a request they refuse.
    permit.release(zero());
    const final =
      reply.headers.get("x-should-retry") === "false" ||
      /insufficient_quota|enforced_spend_limit/.test(text);
    if (!final) {
      const wait = retryAfterMs(reply.headers) ?? 1_000;
      await r.limiter.pause(target.limitKey, wait).catch(() => {});
      return { failure: { kind: "upstream", target, status, retryAfterMs: wait } };
    }
    if (target !== ctx.route.targets.at(-1))
      return { failure: { kind: "upstream", target, status, retryAfterMs: undefined } };
  } else if (status >= 500 || status === 408 || status === 409) {
    breaker.failure();
    // Billed like the simulator and the providers: the input was read, no output made.
    permit.release(amountsFor(input, 0));
    return {
      failure: { kind: "upstream", target, status, retryAfterMs: retryAfterMs(reply.headers) },
    };
  } else {
    breaker.neutral();
    permit.release(zero());
  }
  // The caller's own mistake (or a final refusal): answered as the provider said.
  record(ctx, "rejected", status, target, undefined, `provider_${status}`);
  return { answer: passThroughError(call.format, upstreamFormat, status, text, target) };
}

/** Input tokens the call reserves. */
function inputOf(call: GatewayCall): number {
  return call.endpoint === "embeddings"
    ? countEmbeddingInput(call.body.input)
    : countInput(call.format, call.body);
}

/** Output tokens the call reserves: its bound, else the target's estimate (0 for embeddings). */
function outputOf(r: Resources, call: GatewayCall, target: Target): number {
  if (call.endpoint === "embeddings") return 0;
  return outputBound(call.body) ?? r.estimator.estimate(target.id);
}

/** The body sent to the target, serialised. */
function upstreamBody(call: GatewayCall, target: Target): string {
  const up = target.provider.type;
  if (up !== call.format) {
    const body =
      up === "anthropic"
        ? openaiToAnthropicRequest(call.body, target.model)
        : anthropicToOpenaiRequest(call.body, target.model);
    if (call.body.stream === true) {
      body.stream = true;
      // Usage comes only when asked; the translated stream needs it for the caller's.
      if (up === "openai") body.stream_options = { include_usage: true };
    }
    return JSON.stringify(body);
  }
  const addUsage =
    up === "openai" &&
    call.body.stream === true &&
    (call.body.stream_options as Obj | undefined)?.include_usage !== true;
  if (call.rawBody !== undefined && call.body.model === target.model && !addUsage) {
    return call.rawBody;
  }
  const body: Obj = { ...call.body, model: target.model };
  if (addUsage) body.stream_options = { ...(body.stream_options as Obj), include_usage: true };
  return JSON.stringify(body);
}
