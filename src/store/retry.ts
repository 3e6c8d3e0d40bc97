import { setTimeout as sleep } from "node:timers/promises";
import { isTransientDbError } from "./transient.js";

export interface DbRetryOptions {
  /** Give up after this long; `Infinity` makes the caller pause until the database is back. */
  maxElapsedMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn`, retrying transient database errors with capped exponential backoff and full
 * jitter (50 ms doubling to 5 s). The engine calls it with `maxElapsedMs: Infinity` on its
 * own writes, so a database restart pauses runs instead of failing them.
 */
export async function withDbRetry<T>(fn: () => Promise<T>, opts: DbRetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.maxElapsedMs ?? 10_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      const cap = Math.min(5_000, 50 * 2 ** Math.min(attempt, 10));
      const delay = Math.random() * cap;
      if (Date.now() + delay > deadline || opts.signal?.aborted) throw err;
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(
        () => {},
      );
    }
  }
}
