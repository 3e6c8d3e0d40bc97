/**
 * OpenAI's wire details: error bodies and the headers every response carries.
 */
import type { ServerResponse } from "node:http";
import { goDuration } from "../durations.js";
import { type Headers, sendJson } from "../http.js";
import { type BucketState, type Dimension, mostRestrictive, type Rejection } from "../limits.js";

export const ORGANIZATION = "org-sim";

export interface OpenAIErrorInfo {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** `{"error":{message,type,param,code}}` — the one error shape of the OpenAI API. */
export function sendOpenAIError(
  res: ServerResponse,
  status: number,
  headers: Headers,
  error: OpenAIErrorInfo,
): void {
  sendJson(res, status, headers, { error });
}

export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): OpenAIErrorInfo {
  return { message, type: "invalid_request_error", param, code };
}

export const SERVER_ERROR: OpenAIErrorInfo = {
  message:
    "The server had an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center if the error persists.",
  type: "server_error",
  param: null,
  code: null,
};

export const INVALID_JSON: OpenAIErrorInfo = invalidRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center.)",
);

/** Minute token limits behind `x-ratelimit-*-tokens`: TPM, or the tightest of the splits. */
const TOKEN_DIMS: readonly Dimension[] = ["tpm", "itpm", "otpm"];

/**
 * Headers of every response: ids, processing time, and `x-ratelimit-*` for each limit
 * configured on the model (a dimension without a limit has no header, since there is
 * nothing true to report).
 */
export function openaiHeaders(
  requestId: string,
  startedAt: number,
  limits: readonly BucketState[] = [],
): Headers {
  const h: Headers = {
    "x-request-id": requestId,
    "openai-organization": ORGANIZATION,
    "openai-processing-ms": String(Math.round(performance.now() - startedAt)),
    "openai-version": "2020-10-01",
  };
  const requests = limits.find((l) => l.dimension === "rpm");
  if (requests) {
    h["x-ratelimit-limit-requests"] = String(requests.limit);
    h["x-ratelimit-remaining-requests"] = String(requests.remaining);
    h["x-ratelimit-reset-requests"] = goDuration(requests.resetMs);
  }
  const tokens = mostRestrictive(limits, TOKEN_DIMS);
  if (tokens) {
    h["x-ratelimit-limit-tokens"] = String(tokens.limit);
    h["x-ratelimit-remaining-tokens"] = String(tokens.remaining);
    h["x-ratelimit-reset-tokens"] = goDuration(tokens.resetMs);
  }
  return h;
}

const WORDING: Record<Rejection["dimension"], { type: string; phrase: string }> = {
  rpm: { type: "requests", phrase: "requests per min (RPM)" },
  tpm: { type: "tokens", phrase: "tokens per min (TPM)" },
  itpm: { type: "tokens", phrase: "input tokens per min (ITPM)" },
  otpm: { type: "tokens", phrase: "output tokens per min (OTPM)" },
  tpd: { type: "tokens", phrase: "tokens per day (TPD)" },
  concurrency: { type: "requests", phrase: "concurrent requests" },
};

/**
 * A 429 as OpenAI sends it, plus `retry-after-ms` / `retry-after` (which OpenAI-compatible
 * servers send and the SDKs honour). A request larger than the whole limit gets
 * `x-should-retry: false` and no retry hint: waiting cannot help.
 */
export function sendOpenAIRateLimited(
  res: ServerResponse,
  headers: Headers,
  model: string,
  r: Rejection,
): void {
  const { type, phrase } = WORDING[r.dimension];
  let message: string;
  if (r.tooLarge) {
    headers["x-should-retry"] = "false";
    message = `Request too large for ${model} in organization ${ORGANIZATION} on ${phrase}: Limit ${r.limit}, Requested ${r.requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`;
  } else {
    const waitMs = Math.ceil(r.retryAfterMs);
    headers["retry-after-ms"] = String(waitMs);
    headers["retry-after"] = String(Math.ceil(waitMs / 1000));
    message = `Rate limit reached for ${model} in organization ${ORGANIZATION} on ${phrase}: Limit ${r.limit}, Used ${r.used}, Requested ${r.requested}. Please try again in ${goDuration(waitMs)}.`;
  }
  sendOpenAIError(res, 429, headers, { message, type, param: null, code: "rate_limit_exceeded" });
}
