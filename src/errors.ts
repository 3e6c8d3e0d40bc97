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

/**
 * Every code a refused request answers with. Codes only: the HTTP status of each is looked
 * up at the edge, in the one table src/api/error-codes.ts (which must list every member,
 * or it does not compile), and docs/errors.md documents them.
 */
export type RequestErrorCode =
  | "OUTLAST_INVALID_JSON"
  | "OUTLAST_INVALID_REQUEST"
  | "OUTLAST_FORBIDDEN_KEY"
  | "OUTLAST_BODY_TOO_DEEP"
  | "OUTLAST_UNSTORABLE_VALUE"
  | "OUTLAST_INVALID_INPUT"
  | "OUTLAST_UNKNOWN_QUEUE"
  | "OUTLAST_INVALID_SIGNAL"
  | "OUTLAST_RUN_NOT_FAILED"
  | "OUTLAST_INVALID_ID"
  | "OUTLAST_INVALID_FILTER"
  | "OUTLAST_INVALID_CURSOR"
  | "OUTLAST_INVALID_EVENT_ID"
  | "OUTLAST_WEBHOOK_URL_REFUSED"
  | "OUTLAST_WEBHOOK_NOT_FOUND"
  | "OUTLAST_DELIVERY_NOT_FOUND"
  | "OUTLAST_UNAUTHORIZED"
  | "OUTLAST_FORBIDDEN"
  | "OUTLAST_KEY_NOT_FOUND"
  | "OUTLAST_KEY_READ_ONLY"
  | "OUTLAST_RATE_LIMITED"
  | "OUTLAST_NOT_FOUND"
  | "OUTLAST_UNKNOWN_AGENT"
  | "OUTLAST_RUN_NOT_FOUND"
  | "OUTLAST_THREAD_NOT_FOUND"
  | "OUTLAST_THREAD_VERSION_NOT_FOUND"
  | "OUTLAST_THREAD_EXISTS"
  | "OUTLAST_THREAD_BUSY"
  | "OUTLAST_METHOD_NOT_ALLOWED"
  | "OUTLAST_IDEMPOTENCY_CONFLICT"
  | "OUTLAST_RUN_FINISHED"
  | "OUTLAST_QUOTA_EXHAUSTED"
  | "OUTLAST_BODY_TOO_LARGE"
  | "OUTLAST_UNSUPPORTED_MEDIA_TYPE"
  | "OUTLAST_INTERNAL"
  | "OUTLAST_NOT_READY"
  | "OUTLAST_UNAVAILABLE";

export interface RequestErrorOptions {
  /** Shown to the client as `error.details` (e.g. the paths of invalid input). */
  details?: unknown;
  /** Response headers the answer needs, e.g. `WWW-Authenticate` or `Retry-After`. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * A request Outlast refuses: a stable code that tells the client what went wrong and a
 * message that says what to fix. Thrown by the API's middleware and routes and by
 * RunService alike, and rendered by the API's one error handler, which maps the code to
 * its HTTP status (src/api/error-codes.ts).
 *
 * @example
 * throw new RequestError("OUTLAST_RUN_NOT_FOUND", `no run with id ${id}`);
 * throw new RequestError("OUTLAST_UNAUTHORIZED", "the API key is not valid", {
 *   headers: { "WWW-Authenticate": 'Bearer realm="outlast", error="invalid_token"' },
 * });
 */
export class RequestError extends OutlastError {
  declare readonly code: RequestErrorCode;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>> | undefined;
  constructor(code: RequestErrorCode, message: string, options?: RequestErrorOptions);
  /**
   * @deprecated Name the code only: its status comes from src/api/error-codes.ts, and this
   * `status` is ignored. Kept so that callers written before the table still compile.
   */
  constructor(status: number, code: RequestErrorCode, message: string, details?: unknown);
  constructor(
    first: RequestErrorCode | number,
    second: string,
    third?: RequestErrorOptions | string,
    fourth?: unknown,
  ) {
    const legacy = typeof first === "number";
    super("request", legacy ? second : first, legacy ? String(third) : second);
    const options = legacy ? { details: fourth } : (third as RequestErrorOptions | undefined);
    this.details = options?.details;
    this.headers = options?.headers;
  }
}
