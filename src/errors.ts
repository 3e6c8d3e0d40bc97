/**
 * Errors carry their meaning: the class decides what the engine does with a failed step
 * or run, and `code` is a stable identifier documented in docs/errors.md.
 *
 * | class            | engine does                                                  |
 * |------------------|--------------------------------------------------------------|
 * | TerminalError    | fails the run at once; journaled, so replay rethrows it       |
 * | RetryableError   | retries the run after `retryAfterMs` (or backoff)             |
 * | RateLimitedError | waits for quota (status `throttled`); no attempt is consumed  |
 * | CancelledError   | ends the run as `cancelled`                                   |
 * | TimeoutError     | the run or step exceeded its time budget; retried             |
 * | any other Error  | retried with exponential backoff until `maxAttempts`          |
 */
import type { SerializedError } from "./types/journal.js";

export type { SerializedError };

export type ErrorKind =
  | "terminal"
  | "retryable"
  | "rate_limited"
  | "cancelled"
  | "timeout"
  | "lease_lost"
  | "parked"
  | "request";

export class OutlastError extends Error {
  readonly code: string;
  /**
   * What the engine does with the error. The engine reads this, not `instanceof`, so an
   * error thrown by a second copy of the package (a config loaded from another folder,
   * a bundled agent) is still understood.
   */
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
  }
}

/** The error's kind, also for errors from another copy of this module. */
export function errorKind(err: unknown): ErrorKind | undefined {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === "string" && err instanceof Error ? (kind as ErrorKind) : undefined;
}

/** Never retried. Throw it from a step or an agent when retrying cannot help. */
export class TerminalError extends OutlastError {
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super("terminal", options?.code ?? "OUTLAST_TERMINAL", message, options);
  }
}

/** Retried, after `retryAfterMs` when given (a provider's Retry-After, say). */
export class RetryableError extends OutlastError {
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    options?: ErrorOptions & { retryAfterMs?: number; code?: string; kind?: "rate_limited" },
  ) {
    super(options?.kind ?? "retryable", options?.code ?? "OUTLAST_RETRYABLE", message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** A provider or Outlast's own limits said "not now": the run waits without losing an attempt. */
export class RateLimitedError extends RetryableError {
  /** The limit that holds the call, e.g. `sim/gpt-4o-mini tpm` (shown on the throttled run). */
  readonly limit: string | undefined;
  constructor(message: string, options?: ErrorOptions & { retryAfterMs?: number; limit?: string }) {
    super(message, { ...options, code: "OUTLAST_RATE_LIMITED", kind: "rate_limited" });
    this.limit = options?.limit;
  }
}

export class CancelledError extends OutlastError {
  constructor(message = "run was cancelled") {
    super("cancelled", "OUTLAST_CANCELLED", message);
  }
}

export class TimeoutError extends OutlastError {
  constructor(message: string) {
    super("timeout", "OUTLAST_TIMEOUT", message);
  }
}

/** The code called a different step than the journal recorded at the same position. */
export class NonDeterminismError extends TerminalError {
  constructor(message: string) {
    super(message, { code: "OUTLAST_NONDETERMINISM" });
  }
}

/** This worker's claim on the run ended (lease expired, run reclaimed, worker draining). */
export class LeaseLostError extends OutlastError {
  constructor(message = "the worker no longer holds the run's lease") {
    super("lease_lost", "OUTLAST_LEASE_LOST", message);
  }
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const data = (err as { data?: unknown }).data;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === "string" ? { code } : {}),
      ...(data && typeof data === "object" ? { data: data as Record<string, unknown> } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
    };
  }
  return { name: "Error", message: String(err) };
}

/** A journaled terminal error, rethrown on replay with its original name, code and message. */
export function deserializeError(e: SerializedError): TerminalError {
  const err = new TerminalError(e.message, { code: e.code ?? "OUTLAST_TERMINAL" });
  err.name = e.name;
  return err;
}

/** A request the API refuses: the status and a stable code tell the client what to fix. */
export class RequestError extends OutlastError {
  readonly status: 400 | 401 | 404 | 409 | 413 | 415 | 422 | 429 | 503;
  readonly details: unknown;
  constructor(status: RequestError["status"], code: string, message: string, details?: unknown) {
    super("request", code, message);
    this.status = status;
    this.details = details;
  }
}
