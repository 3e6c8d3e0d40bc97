/**
 * The request lifecycle shared by every model endpoint, whatever its wire format:
 *
 *   validated request ─▶ admit (limits) ─┬─ rejected ─▶ 429 now (no latency: providers
 *                                        │               reject before queueing)
 *                                        └─ admitted ─▶ fate drawn from the seeded PRNG
 *                                             ├─ error   ─▶ 5xx after the latency
 *                                             ├─ timeout ─▶ held until the client leaves
 *                                             └─ ok      ─▶ answer after the latency
 *
 * An admitted request holds a concurrency slot until its response closes (finished or
 * aborted) and is reconciled once with its actual output (0 when it produced none).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ModelCatalog, ResolvedModel } from "./catalog.js";
import { apiKeyOf } from "./http.js";
import type { BucketState, LimiterRegistry, ModelLimiter, Rejection, Ticket } from "./limits.js";
import type { StatsRecorder } from "./stats.js";

/** Everything a handler needs; one per simulator. */
export interface SimContext {
  catalog: ModelCatalog;
  limiters: LimiterRegistry;
  stats: StatsRecorder;
  random: () => number;
}

export type Outcome =
  | { kind: "rejected"; rejection: Rejection; limits: BucketState[] }
  | { kind: "timeout" }
  | { kind: "error" | "ok"; exchange: Exchange; limits: BucketState[]; latencyMs: number };

/**
 * Admits a request and decides its fate. The caller has already counted the request and
 * validated it; it formats whatever comes back in its own API's shape.
 */
export function admit(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  model: ResolvedModel,
  input: number,
  estimatedOutput: number,
): Outcome {
  const now = Date.now();
  const limiter = ctx.limiters.get(model.config.name, apiKeyOf(req), model.limits, now);
  const admission = limiter.admit(input, estimatedOutput, now);
  const limits = limiter.snapshot(now);
  if (!admission.ok) {
    ctx.stats.count("rateLimited", model.config.name);
    return { kind: "rejected", rejection: admission.rejection, limits };
  }
  // Always two draws per admitted request, so the sequence does not depend on the config.
  const fateDraw = ctx.random();
  const [lo, hi] = model.latency;
  const latencyMs = lo + (hi - lo) * ctx.random();
  const exchange = new Exchange(res, limiter, admission.ticket);

  if (fateDraw < model.errorRate) {
    admission.ticket.expectedEnd = now + latencyMs;
    exchange.settle(0);
    ctx.stats.count("errors", model.config.name);
    return { kind: "error", exchange, limits, latencyMs };
  }
  if (fateDraw < model.errorRate + model.timeoutRate) {
    admission.ticket.expectedEnd = Number.POSITIVE_INFINITY;
    exchange.settle(0);
    ctx.stats.count("timeouts", model.config.name);
    return { kind: "timeout" };
  }
  admission.ticket.expectedEnd = now + latencyMs;
  return { kind: "ok", exchange, limits, latencyMs };
}

/**
 * One admitted request/response pair: owns its timer and its limiter ticket, and gives
 * both back when the response closes, whether it finished or the client went away.
 */
export class Exchange {
  private timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly res: ServerResponse,
    private readonly limiter: ModelLimiter,
    private readonly ticket: Ticket,
  ) {
    res.once("close", () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.limiter.settle(this.ticket, 0, Date.now());
      this.limiter.release(this.ticket);
    });
  }

  /** Runs `fn` after `ms` (synchronously when ms <= 0), unless the client has left. */
  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    if (ms <= 0) {
      fn();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) fn();
    }, ms);
  }

  /** Reconciles the token estimate with the output actually produced (first call wins). */
  settle(actualOutput: number): void {
    this.limiter.settle(this.ticket, actualOutput, Date.now());
  }
}
