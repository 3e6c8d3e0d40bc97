/**
 * Anthropic's wire details: error bodies and `anthropic-ratelimit-*` headers.
 */
import type { ServerResponse } from "node:http";
import { rfc3339 } from "../durations.js";
import { type Headers, sendJson } from "../http.js";
import { type BucketState, type Dimension, mostRestrictive, type Rejection } from "../limits.js";

export type AnthropicErrorType =
  | "invalid_request_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

/** `{"type":"error","error":{type,message},"request_id":…}` */
export function sendAnthropicError(
  res: ServerResponse,
  status: number,
  headers: Headers,
  type: AnthropicErrorType,
  message: string,
): void {
  sendJson(res, status, headers, {
    type: "error",
    error: { type, message },
    request_id: headers["request-id"],
  });
}

const TOKEN_DIMS: readonly Dimension[] = ["tpm", "itpm", "otpm"];

/**
 * `request-id` plus, for each limit configured on the model, limit / remaining / reset.
 * Token `remaining` is rounded to the nearest thousand, as Anthropic does; `tokens-*`
 * shows the most restrictive token limit in force.
 */
export function anthropicHeaders(requestId: string, limits: readonly BucketState[] = []): Headers {
  const h: Headers = { "request-id": requestId };
  if (limits.length === 0) return h;
  const now = Date.now();
  const put = (name: string, state: BucketState | undefined, round: boolean) => {
    if (!state) return;
    const remaining = round ? Math.round(state.remaining / 1000) * 1000 : state.remaining;
    h[`anthropic-ratelimit-${name}-limit`] = String(state.limit);
    h[`anthropic-ratelimit-${name}-remaining`] = String(remaining);
    h[`anthropic-ratelimit-${name}-reset`] = rfc3339(now + state.resetMs);
  };
  put(
    "requests",
    limits.find((l) => l.dimension === "rpm"),
    false,
  );
  put("tokens", mostRestrictive(limits, TOKEN_DIMS), true);
  put(
    "input-tokens",
    limits.find((l) => l.dimension === "itpm"),
    true,
  );
  put(
    "output-tokens",
    limits.find((l) => l.dimension === "otpm"),
    true,
  );
  return h;
}

const LIMITS_DOC = "https://docs.claude.com/en/api/rate-limits";

const MESSAGES: Record<Rejection["dimension"], string> = {
  rpm: `Number of requests has exceeded your per-minute rate limit (${LIMITS_DOC}); see the response headers for current usage. Please try again later.`,
  tpm: `Number of request tokens has exceeded your per-minute rate limit (${LIMITS_DOC}); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.`,
  itpm: `Number of input tokens has exceeded your per-minute rate limit (${LIMITS_DOC}); see the response headers for current usage. Please reduce the prompt length, or try again later.`,
  otpm: `Number of output tokens has exceeded your per-minute rate limit (${LIMITS_DOC}); see the response headers for current usage. Please reduce the maximum tokens requested, or try again later.`,
  tpd: `Number of request tokens has exceeded your daily rate limit (${LIMITS_DOC}); see the response headers for current usage. Please try again later.`,
  concurrency:
    "Number of concurrent connections has exceeded your rate limit. Please try again later or contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
};

const UNITS: Record<Rejection["dimension"], string> = {
  rpm: "requests per minute",
  tpm: "tokens per minute",
  itpm: "input tokens per minute",
  otpm: "output tokens per minute",
  tpd: "tokens per day",
  concurrency: "concurrent requests",
};

/**
 * A 429 with `retry-after` in whole seconds (rounded up). A request larger than the
 * whole limit is refused with `x-should-retry: false` and no retry hint.
 */
export function sendAnthropicRateLimited(
  res: ServerResponse,
  headers: Headers,
  r: Rejection,
): void {
  let message: string;
  if (r.tooLarge) {
    headers["x-should-retry"] = "false";
    message = `This request would exceed your rate limit of ${r.limit} ${UNITS[r.dimension]} on its own (it needs ${r.requested}); reduce the prompt length or max_tokens (${LIMITS_DOC}).`;
  } else {
    headers["retry-after"] = String(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
    message = MESSAGES[r.dimension];
  }
  sendAnthropicError(res, 429, headers, "rate_limit_error", message);
}
