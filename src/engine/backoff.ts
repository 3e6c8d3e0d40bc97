import type { RetryPolicy } from "./agent.js";

export const DEFAULT_RETRY: Required<RetryPolicy> = {
  maxAttempts: 3,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
};

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
 * Jitter"): a uniform wait in [0, min(max, initial * 2^(attempt-1))]. Full jitter spreads
 * retries of runs that failed together, so they do not hit the provider together again.
 * `attempt` is the number of the attempt that just failed (1-based).
 */
export function backoffDelayMs(
  policy: Required<RetryPolicy>,
  attempt: number,
  rand = Math.random,
): number {
  const cap = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(rand() * cap);
}
