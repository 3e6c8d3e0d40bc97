/**
 * The one table of the HTTP API's errors: every `error.code` it answers with, the status
 * that code is answered with, and what it means. Throwers name a code (a RequestError,
 * src/errors.ts) and never a status; `errorResponse` looks the status up here. Users grep
 * for codes (Fastify's `FST_ERR_*`), so a code never changes meaning once shipped.
 *
 * The keys are exactly `RequestErrorCode`: a code thrown without a row here, or a row for
 * a code nobody declared, does not compile. docs/errors.md repeats the table for users
 * (test/docs/error-codes.test.ts keeps the two in step).
 */
import type { RequestErrorCode } from "../errors.js";

export const API_ERROR_CODES = {
  OUTLAST_INVALID_JSON: { status: 400, meaning: "the request body is not valid JSON" },
  OUTLAST_INVALID_REQUEST: {
    status: 400,
    meaning:
      "a body field, query parameter or path parameter fails the schema (the message names it), or an unknown one was sent",
  },
  OUTLAST_FORBIDDEN_KEY: {
    status: 400,
    meaning:
      'the body holds a "__proto__" key or a "constructor" object with "prototype" (prototype pollution)',
  },
  OUTLAST_BODY_TOO_DEEP: {
    status: 400,
    meaning: "the body nests objects or arrays deeper than the API accepts",
  },
  OUTLAST_UNSTORABLE_VALUE: {
    status: 400,
    meaning:
      "a value is valid JSON but the database cannot store it (a NUL character, an unpaired surrogate, an out-of-range value)",
  },
  OUTLAST_INVALID_INPUT: {
    status: 400,
    meaning: "the input does not match the agent's input schema",
  },
  OUTLAST_UNKNOWN_QUEUE: {
    status: 400,
    meaning: "the queue named is not one this deployment serves",
  },
  OUTLAST_INVALID_SIGNAL: {
    status: 400,
    meaning: "the signal name has characters other than letters, digits, '.', ':', '_' or '-'",
  },
  OUTLAST_RUN_NOT_FAILED: { status: 409, meaning: "only a failed run can be resumed" },
  OUTLAST_INVALID_ID: { status: 400, meaning: "the run id in the path is not a UUID" },
  OUTLAST_INVALID_FILTER: { status: 400, meaning: "a list filter has a value it cannot take" },
  OUTLAST_INVALID_CURSOR: {
    status: 400,
    meaning: "the cursor is not the next_cursor of a previous page",
  },
  OUTLAST_INVALID_EVENT_ID: {
    status: 400,
    meaning: "Last-Event-ID (or ?after=) is not an event number, a non-negative integer",
  },
  OUTLAST_WEBHOOK_URL_REFUSED: {
    status: 400,
    meaning:
      "the webhook URL is not http(s), carries credentials, or resolves to a private, loopback or link-local address (webhooks.allowPrivateAddresses is off)",
  },
  OUTLAST_WEBHOOK_NOT_FOUND: { status: 404, meaning: "no webhook subscription has this id" },
  OUTLAST_DELIVERY_NOT_FOUND: { status: 404, meaning: "no webhook delivery has this id" },
  OUTLAST_UNAUTHORIZED: {
    status: 401,
    meaning: "the Authorization: Bearer <key> header is missing or holds the wrong key",
  },
  OUTLAST_FORBIDDEN: {
    status: 403,
    meaning:
      "the key's role may not use this route (docs/security.md lists each route's role), or a run token asked for something other than its run",
  },
  OUTLAST_KEY_NOT_FOUND: { status: 404, meaning: "no API key of the caller's project has this id" },
  OUTLAST_KEY_READ_ONLY: {
    status: 409,
    meaning: "the key comes from the config (gateway.keys); remove it there to revoke it",
  },
  OUTLAST_RATE_LIMITED: {
    status: 429,
    meaning:
      "the key made more requests this minute than api.rateLimits allows its role; retry after Retry-After seconds",
  },
  OUTLAST_NOT_FOUND: { status: 404, meaning: "no route has this path" },
  OUTLAST_UNKNOWN_AGENT: { status: 404, meaning: "no agent with this name is registered" },
  OUTLAST_RUN_NOT_FOUND: { status: 404, meaning: "no run has this id" },
  OUTLAST_THREAD_NOT_FOUND: {
    status: 404,
    meaning: "no thread has this id in the caller's project",
  },
  OUTLAST_THREAD_VERSION_NOT_FOUND: { status: 404, meaning: "the thread has no such version" },
  OUTLAST_THREAD_EXISTS: { status: 409, meaning: "a thread with this id already exists" },
  OUTLAST_THREAD_BUSY: {
    status: 409,
    meaning:
      "the thread has a run in progress: a run submitted with multitask_strategy reject, or a delete",
  },
  OUTLAST_METHOD_NOT_ALLOWED: {
    status: 405,
    meaning: "the path exists but not with this method (the Allow header lists the methods)",
  },
  OUTLAST_IDEMPOTENCY_CONFLICT: {
    status: 409,
    meaning: "the idempotency key already belongs to a run of another agent",
  },
  OUTLAST_RUN_FINISHED: {
    status: 409,
    meaning: "the run already finished; it cannot be cancelled",
  },
  OUTLAST_QUOTA_EXHAUSTED: {
    status: 429,
    meaning:
      "the agent fails fast when quota is short, and today's quota cannot cover a run (details: limit, eta)",
  },
  OUTLAST_BODY_TOO_LARGE: { status: 413, meaning: "the request body is over the size limit" },
  OUTLAST_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: "the body is not sent as Content-Type: application/json",
  },
  OUTLAST_INTERNAL: {
    status: 500,
    meaning: "a bug on the server; the message holds a reference to find it in the server log",
  },
  OUTLAST_NOT_READY: {
    status: 503,
    meaning: "the server cannot reach its database yet (readiness probe)",
  },
  OUTLAST_UNAVAILABLE: {
    status: 503,
    meaning: "the database is briefly unreachable; retry after the Retry-After seconds",
  },
} as const satisfies Record<RequestErrorCode, { status: ErrorStatus; meaning: string }>;

/** The statuses an error may have: 4xx for what the client sent, 5xx for our side. */
type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 503;

export type ApiErrorCode = RequestErrorCode;

/** The HTTP status a code is answered with. */
export function statusOf(code: ApiErrorCode): ErrorStatus {
  return API_ERROR_CODES[code].status;
}
