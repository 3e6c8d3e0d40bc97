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
import { cached } from "./answers.js";
import { attempt, inputOf, outputOf } from "./attempt.js";
import { backoffMs } from "./breaker.js";
import { ResponseCache } from "./cache.js";
import { CallState } from "./call-state.js";
import type { Failure, GatewayAnswer, GatewayCall, Resources } from "./call-types.js";
import type { Router, Target } from "./config.js";
import { GatewayError } from "./errors.js";
import { capRefusal, finalError, storeUnavailable } from "./failures.js";
import { CapHold, CapUnavailable } from "./limiter/caps.js";
import { amountsFor } from "./limiter/dimensions.js";

// http/call.ts imports the answer's type from here; it lives in call-types.ts.
export type { GatewayAnswer } from "./call-types.js";

/** How long retries of failed upstream calls may take, whatever the quota wait. */
const UPSTREAM_RETRY_BUDGET_MS = 10_000;

export async function runCall(r: Resources, call: GatewayCall): Promise<GatewayAnswer> {
  const started = performance.now();
  const requested = call.body.model as string;
  const route = r.router.resolve(requested);
  if (!route) throw unknownModel(r.router, requested);

  const ttl = call.cacheTtlSeconds ?? route.cacheTtlSeconds;
  const cacheKey = ttl
    ? ResponseCache.key(
        call.endpoint === "embeddings" ? "embeddings" : call.format,
        call.body,
        call.attribution.project,
      )
    : undefined;
  const ctx = new CallState(r, call, route, started, cacheKey, ttl);
  // Traced, the call's span ends on any throw too; untraced, no extra await on the way.
  if (r.tracing === undefined) return serve(ctx, cacheKey);
  try {
    return await serve(ctx, cacheKey);
  } catch (err) {
    ctx.thrown(err);
    throw err;
  }
}

async function serve(ctx: CallState, cacheKey: string | undefined): Promise<GatewayAnswer> {
  const { r, call } = ctx;
  if (cacheKey) {
    const hit = await r.cache.get(cacheKey);
    if (hit) return cached(ctx, hit);
  }
  const deadline = Date.now() + call.waitMs;
  // Without caps configured, no extra await on the way (the common case).
  if (r.caps.empty) return rounds(ctx, deadline);
  ctx.holdCaps(await holdCaps(ctx, deadline));
  try {
    return await rounds(ctx, deadline);
  } finally {
    ctx.end();
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
async function holdCaps(ctx: CallState, deadline: number): Promise<CapHold | undefined> {
  const { r, call, route } = ctx;
  const caps = r.caps.for(call.attribution);
  if (caps.length === 0) return undefined;
  const input = inputOf(call);
  const output = outputOf(r, call, route.targets[0] as Target);
  try {
    return await CapHold.acquire(r.limiter, caps, amountsFor(input, output), deadline, call.signal);
  } catch (err) {
    if (call.signal.aborted) throw err;
    throw ctx.fail(
      err instanceof CapUnavailable ? capRefusal(err, input, output) : storeUnavailable(err),
    );
  }
}

async function rounds(ctx: CallState, deadline: number): Promise<GatewayAnswer> {
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
  throw ctx.fail(finalError(failures, route));
}
