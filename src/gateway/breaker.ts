/**
 * A circuit breaker per target, in this process.
 *
 *   closed ──N consecutive failures──▶ open ──cooldown──▶ half-open ──probe ok──▶ closed
 *                                       ▲                      │
 *                                       └────probe failed──────┘
 *
 * Failures are 5xx, timeouts and network errors; a 429 is quota, which the limiter
 * handles, and a 4xx is the caller's fault, so neither counts. While open, the target is
 * skipped and the alias's next target serves. Half-open lets exactly one request probe.
 * Per process on purpose: each process sees its own network path to the provider, and a
 * breaker that trips needs no coordination to be useful.
 */
export type BreakerState = "closed" | "open" | "half_open";

export class Breaker {
  private state: BreakerState = "closed";
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  /** Whether a request may go to the target now; in half-open, only the first does. */
  allow(now = Date.now()): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (now - this.openedAt < this.cooldownMs) return false;
      this.state = "half_open";
      this.probing = false;
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.state = "closed";
    this.failures = 0;
    this.probing = false;
  }

  failure(now = Date.now()): void {
    this.failures++;
    if (this.state === "half_open" || this.failures >= this.threshold) {
      this.state = "open";
      this.openedAt = now;
      this.probing = false;
    }
  }

  /** A request that counted neither way (429, 4xx): let the next probe through. */
  neutral(): void {
    this.probing = false;
  }

  get current(): BreakerState {
    return this.state;
  }

  /** Milliseconds until an open breaker lets a probe through. */
  retryInMs(now = Date.now()): number {
    return this.state === "open" ? Math.max(0, this.cooldownMs - (now - this.openedAt)) : 0;
  }
}

/** Full-jitter exponential backoff: random in [0, min(cap, base·2^attempt)). */
export function backoffMs(attempt: number, baseMs = 250, capMs = 8_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}
