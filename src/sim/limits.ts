/**
 * Rate-limit enforcement: one token bucket per limited dimension, per (model, API key).
 *
 * Why a continuously refilling token bucket rather than a fixed or sliding window:
 * - It is what the providers do. Anthropic documents a token bucket enforced at sub-minute
 *   granularity; OpenAI's own header example (limit 500, remaining 499, reset 120ms)
 *   is exactly one request's refill time, 60 000 ms / 500 — a continuous refill too.
 * - It yields an exact retry time (deficit / refill rate), so `retry-after` and
 *   "Please try again in …" are truthful: a client that waits that long gets in.
 * - It is O(1) in time and memory per request; a sliding log is O(requests in window).
 *
 * A bucket's capacity is the per-period limit and it starts full, so a burst of up to the
 * limit passes at once (rpm 5 → five immediate requests, the sixth waits 12 s).
 *
 * Token dimensions are charged an estimate at admission (input + max output) and
 * reconciled with the actual output afterwards. Reconciling may push a bucket below zero
 * (output longer than estimated): that debt is repaid by refill, as at the providers.
 *
 * Rejected requests are not charged at all, so the advertised wait stays exact however
 * often a client retries.
 */

export type Dimension = "rpm" | "tpm" | "itpm" | "otpm" | "tpd";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Floating-point slack so that waiting exactly the advertised time always succeeds. */
const EPSILON = 1e-6;

/** Order matters: the first exhausted dimension in this order is the one reported. */
const DIMENSIONS: readonly { dim: Dimension; periodMs: number }[] = [
  { dim: "rpm", periodMs: MINUTE_MS },
  { dim: "tpm", periodMs: MINUTE_MS },
  { dim: "itpm", periodMs: MINUTE_MS },
  { dim: "otpm", periodMs: MINUTE_MS },
  { dim: "tpd", periodMs: DAY_MS },
];

export class TokenBucket {
  private level: number;
  private updatedAt: number;
  private readonly perMs: number;

  constructor(
    readonly capacity: number,
    periodMs: number,
    now: number,
  ) {
    this.level = capacity;
    this.updatedAt = now;
    this.perMs = capacity / periodMs;
  }

  /** Current level (may be negative while in debt). */
  available(now: number): number {
    if (now > this.updatedAt) {
      this.level = Math.min(this.capacity, this.level + (now - this.updatedAt) * this.perMs);
      this.updatedAt = now;
    }
    return this.level;
  }

  /** Milliseconds until `amount` can be taken; 0 if now; Infinity if it never fits. */
  waitMs(amount: number, now: number): number {
    if (amount > this.capacity) return Number.POSITIVE_INFINITY;
    const deficit = amount - this.available(now);
    return deficit <= EPSILON ? 0 : deficit / this.perMs;
  }

  /** Adds (refund) or removes (charge) tokens; never above capacity, may go below zero. */
  adjust(delta: number, now: number): void {
    this.level = Math.min(this.capacity, this.available(now) + delta);
  }

  msUntilFull(now: number): number {
    return (this.capacity - this.available(now)) / this.perMs;
  }

  refillFully(now: number): void {
    this.level = this.capacity;
    this.updatedAt = now;
  }
}

/** An admitted request: what it was charged, so it can be reconciled and released. */
export interface Ticket {
  input: number;
  estimatedOutput: number;
  /** When the request is expected to finish; drives the concurrency retry hint. */
  expectedEnd: number;
  settled: boolean;
  released: boolean;
}

export interface Rejection {
  dimension: Dimension | "concurrency";
  limit: number;
  used: number;
  requested: number;
  /** Time after which the same request would be admitted; Infinity when tooLarge. */
  retryAfterMs: number;
  /** The request alone exceeds the limit: waiting will never help. */
  tooLarge: boolean;
}

export interface BucketState {
  dimension: Dimension;
  limit: number;
  /** Whole units left now, never negative. */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

export type Admission = { ok: true; ticket: Ticket } | { ok: false; rejection: Rejection };

export type LimitSettings = Partial<Record<Dimension | "concurrency", number>>;

/** Fallback concurrency retry hint when no in-flight request has a known end (all held). */
const CONCURRENCY_RETRY_FALLBACK_MS = 1000;

export class ModelLimiter {
  private readonly buckets: { dim: Dimension; bucket: TokenBucket }[] = [];
  private readonly concurrency: number | undefined;
  private readonly inFlight = new Set<Ticket>();

  constructor(settings: LimitSettings, now: number) {
    for (const { dim, periodMs } of DIMENSIONS) {
      const limit = settings[dim];
      if (limit !== undefined)
        this.buckets.push({ dim, bucket: new TokenBucket(limit, periodMs, now) });
    }
    this.concurrency = settings.concurrency;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Checks every limit and charges all of them, or none. `expectedEnd` is only a hint for
   * the retry time of concurrency rejections and may be updated on the ticket later.
   */
  admit(input: number, estimatedOutput: number, now: number): Admission {
    if (this.concurrency !== undefined && this.inFlight.size >= this.concurrency) {
      return { ok: false, rejection: this.concurrencyRejection(this.concurrency, now) };
    }
    let first: Rejection | undefined;
    let retryAfterMs = 0;
    for (const { dim, bucket } of this.buckets) {
      const amount = amountFor(dim, input, estimatedOutput);
      const wait = bucket.waitMs(amount, now);
      if (wait === 0) continue;
      const rejection: Rejection = {
        dimension: dim,
        limit: bucket.capacity,
        used: Math.max(0, Math.round(bucket.capacity - bucket.available(now))),
        requested: amount,
        retryAfterMs: wait,
        tooLarge: wait === Number.POSITIVE_INFINITY,
      };
      // A request that can never fit is reported as such, whatever else is exhausted.
      if (rejection.tooLarge) return { ok: false, rejection };
      first ??= rejection;
      retryAfterMs = Math.max(retryAfterMs, wait);
    }
    if (first) return { ok: false, rejection: { ...first, retryAfterMs } };
    for (const { dim, bucket } of this.buckets) {
      bucket.adjust(-amountFor(dim, input, estimatedOutput), now);
    }
    const ticket: Ticket = {
      input,
      estimatedOutput,
      expectedEnd: now,
      settled: false,
      released: false,
    };
    this.inFlight.add(ticket);
    return { ok: true, ticket };
  }

  /** Replaces the output estimate with the actual output (once). */
  settle(ticket: Ticket, actualOutput: number, now: number): void {
    if (ticket.settled) return;
    ticket.settled = true;
    const refund = ticket.estimatedOutput - actualOutput;
    if (refund === 0) return;
    for (const { dim, bucket } of this.buckets) {
      if (dim === "tpm" || dim === "otpm" || dim === "tpd") bucket.adjust(refund, now);
    }
  }

  /** Frees the concurrency slot (once). */
  release(ticket: Ticket): void {
    if (ticket.released) return;
    ticket.released = true;
    this.inFlight.delete(ticket);
  }

  snapshot(now: number): BucketState[] {
    return this.buckets.map(({ dim, bucket }) => ({
      dimension: dim,
      limit: bucket.capacity,
      remaining: Math.max(0, Math.floor(bucket.available(now) + EPSILON)),
      resetMs: bucket.msUntilFull(now),
    }));
  }

  /** Refills every bucket; in-flight requests keep their concurrency slots. */
  refill(now: number): void {
    for (const { bucket } of this.buckets) bucket.refillFully(now);
  }

  private concurrencyRejection(limit: number, now: number): Rejection {
    let soonest = Number.POSITIVE_INFINITY;
    for (const t of this.inFlight) soonest = Math.min(soonest, t.expectedEnd);
    const retryAfterMs =
      soonest === Number.POSITIVE_INFINITY
        ? CONCURRENCY_RETRY_FALLBACK_MS
        : Math.max(1, soonest - now);
    return {
      dimension: "concurrency",
      limit,
      used: this.inFlight.size,
      requested: 1,
      retryAfterMs,
      tooLarge: false,
    };
  }
}

function amountFor(dim: Dimension, input: number, output: number): number {
  switch (dim) {
    case "rpm":
      return 1;
    case "itpm":
      return input;
    case "otpm":
      return output;
    default:
      return input + output;
  }
}

/** Limiters keyed by model and API key; created on first use. */
export class LimiterRegistry {
  private readonly limiters = new Map<string, ModelLimiter>();

  get(model: string, apiKey: string, settings: LimitSettings, now: number): ModelLimiter {
    const key = `${model}\u0000${apiKey}`;
    let limiter = this.limiters.get(key);
    if (!limiter) {
      limiter = new ModelLimiter(settings, now);
      this.limiters.set(key, limiter);
    }
    return limiter;
  }

  inFlight(): number {
    let n = 0;
    for (const l of this.limiters.values()) n += l.inFlightCount;
    return n;
  }

  refillAll(now: number): void {
    for (const l of this.limiters.values()) l.refill(now);
  }
}

/**
 * The bucket among `dims` with the least remaining, as Anthropic's `tokens-*` headers
 * report "the most restrictive limit currently in effect".
 */
export function mostRestrictive(
  limits: readonly BucketState[],
  dims: readonly Dimension[],
): BucketState | undefined {
  let best: BucketState | undefined;
  for (const l of limits) {
    if (dims.includes(l.dimension) && (!best || l.remaining < best.remaining)) best = l;
  }
  return best;
}
