/**
 * Gateway errors: a stable code, an HTTP status, and a rendering in each caller's own
 * wire format (OpenAI's `{"error":{message,type,param,code}}`, Anthropic's
 * `{"type":"error","error":{type,message}}`), so SDKs parse them like a provider's.
 * Every code is listed in GATEWAY_ERROR_CODES with what the caller should do.
 */
import type { WireFormat } from "./config.js";

export const GATEWAY_ERROR_CODES = {
  OUTLAST_GATEWAY_INVALID_REQUEST: "the body is not valid JSON or misses a required field; fix it",
  OUTLAST_GATEWAY_UNAUTHORIZED:
    "no or an unknown gateway API key; send one from config.gateway.keys",
  OUTLAST_GATEWAY_FORBIDDEN:
    "the key's role may not do this (a read key asking for a model call); use a submit or admin key",
  OUTLAST_GATEWAY_UNKNOWN_MODEL:
    "the model is neither an alias nor provider/model of a configured provider",
  OUTLAST_GATEWAY_UNSUPPORTED:
    "the request needs something the gateway does not translate (embeddings from an Anthropic-format target, built-in Responses tools)",
  OUTLAST_GATEWAY_NO_STORED_RESPONSES:
    "the gateway keeps no Responses API state: previous_response_id, conversation and GET /v1/responses/{id} are refused; send the whole conversation in input",
  OUTLAST_GATEWAY_RATE_LIMITED:
    "no quota (a provider's limit or a gateway.caps cap) before the caller's deadline; retry after Retry-After",
  OUTLAST_GATEWAY_TOO_LARGE:
    "the request alone exceeds a provider limit or a gateway.caps cap; reduce input or max_tokens",
  OUTLAST_GATEWAY_UPSTREAM_FAILED:
    "every target answered an error (5xx, network); the message names them",
  OUTLAST_GATEWAY_UPSTREAM_UNAVAILABLE: "every target was skipped (circuit open) or timed out",
  OUTLAST_GATEWAY_STREAM_INTERRUPTED:
    "the provider's stream broke after it started; the answer is incomplete",
  OUTLAST_GATEWAY_STORE_UNAVAILABLE:
    "the database holding the limiter is unreachable; retry shortly",
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

export class GatewayError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 429 | 502 | 503,
    readonly code: GatewayErrorCode,
    message: string,
    readonly opts: {
      retryAfterMs?: number | undefined;
      headers?: Record<string, string>;
      /** Targets tried, each with what happened. */
      tried?: string[];
      param?: string;
      /** The limit that held a rate-limited call: `provider/model dimension` or `tenant "a" dimension`. */
      limit?: string;
    } = {},
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
  502: "api_error",
  503: "overloaded_error",
};

const OPENAI_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "invalid_request_error",
  404: "invalid_request_error",
  429: "rate_limit_exceeded",
  502: "server_error",
  503: "server_error",
};

/** The body of an error in the caller's format. */
export function errorBody(format: WireFormat, e: GatewayError): unknown {
  if (format === "anthropic") {
    return {
      type: "error",
      error: { type: ANTHROPIC_TYPES[e.status] ?? "api_error", message: e.message, code: e.code },
    };
  }
  return {
    error: {
      message: e.message,
      type: OPENAI_TYPES[e.status] ?? "server_error",
      param: e.opts.param ?? null,
      code: e.code,
    },
  };
}

/**
 * Headers of an error: Retry-After (seconds, rounded up) and retry-after-ms for the
 * SDKs' backoff, and `x-should-retry: false` when waiting cannot help.
 */
export function errorHeaders(e: GatewayError): Record<string, string> {
  const h: Record<string, string> = { ...e.opts.headers };
  const ms = e.opts.retryAfterMs;
  if (ms !== undefined && Number.isFinite(ms)) {
    h["retry-after"] = String(Math.max(1, Math.ceil(ms / 1000)));
    h["retry-after-ms"] = String(Math.max(1, Math.ceil(ms)));
  }
  if (e.code === "OUTLAST_GATEWAY_TOO_LARGE" || e.status === 400 || e.status === 404) {
    h["x-should-retry"] = "false";
  }
  return h;
}
