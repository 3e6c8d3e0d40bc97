import type { Failure, GatewayAnswer } from "./call-types.js";
import type { Route, Target, WireFormat } from "./config.js";
import { GatewayError } from "./errors.js";
import type { CapUnavailable } from "./limiter/caps.js";
import type { Caps } from "./limiter/dimensions.js";
import type { QuotaUnavailable } from "./limiter/key-limiter.js";

/**
 * How a gateway call that got no answer is answered: the failures of its attempts
 * (src/gateway/pipeline.ts) become one error naming every target tried, and a provider's
 * own 4xx is passed on in the caller's wire format.
 */

/** A provider's 4xx, in the caller's format (as is when the formats match). */
export function passThroughError(
  callerFormat: WireFormat,
  upstreamFormat: WireFormat,
  status: number,
  text: string,
  target: Target,
): GatewayAnswer {
  let out = text;
  if (callerFormat !== upstreamFormat || text.trim() === "") {
    let message = text.slice(0, 500);
    try {
      const j = JSON.parse(text) as { error?: { message?: string } };
      message = j.error?.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    message = `${target.id}: ${message || `HTTP ${status}`}`;
    out = JSON.stringify(
      callerFormat === "anthropic"
        ? { type: "error", error: { type: "invalid_request_error", message } }
        : { error: { message, type: "invalid_request_error", param: null, code: null } },
    );
  }
  return {
    kind: "json",
    status,
    text: out,
    headers: { "x-outlast-target": target.id },
    target,
    usage: undefined,
  };
}

export function finalError(failures: Failure[], route: Route): GatewayError {
  if (failures.length > 0 && failures.every((f) => f.kind === "unsupported")) {
    const what = failures[0]?.kind === "unsupported" ? failures[0].what : "this call";
    return new GatewayError(
      400,
      "OUTLAST_GATEWAY_UNSUPPORTED",
      `no target of "${route.requested}" can serve ${what} (${[...new Set(failures.map((f) => f.target.id))].join(", ")}: Anthropic format); route the call to an OpenAI-format target`,
      { param: "model" },
    );
  }
  // A target that cannot serve the call was skipped, not failed.
  failures = failures.filter((f) => f.kind !== "unsupported");
  const tried = failures.map((f) => {
    switch (f.kind) {
      case "quota":
        return `${f.target.id}: no quota (${f.error.blocked}, ~${Math.ceil(f.error.retryAfterMs)} ms)`;
      case "circuit":
        return `${f.target.id}: circuit open`;
      case "upstream":
        return `${f.target.id}: HTTP ${f.status}`;
      default:
        return `${f.target.id}: ${f.kind}`;
    }
  });
  const list = [...new Set(tried)].join("; ");
  // Out of quota — ours or the provider's 429 — is a 429 the caller can wait out.
  const waits = failures.map((f) =>
    f.kind === "quota"
      ? f.error.retryAfterMs
      : f.kind === "upstream" && f.status === 429 && f.retryAfterMs !== undefined
        ? f.retryAfterMs
        : undefined,
  );
  if (failures.length > 0 && waits.every((w) => w !== undefined)) {
    const quota = failures.find((f) => f.kind === "quota");
    return new GatewayError(
      429,
      "OUTLAST_GATEWAY_RATE_LIMITED",
      `no quota for "${route.requested}" within the wait allowed: ${list}`,
      {
        retryAfterMs: Math.min(...(waits as number[])),
        tried,
        ...(quota?.kind === "quota" ? { limit: `${quota.target.id} ${quota.error.blocked}` } : {}),
        headers: quota ? rateLimitHeaders(quota.target.limits.caps, quota.error) : {},
      },
    );
  }
  const answered = failures.some((f) => f.kind === "upstream");
  const retry = Math.max(
    0,
    ...failures.map((f) =>
      f.kind === "upstream" ? (f.retryAfterMs ?? 0) : f.kind === "circuit" ? f.retryInMs : 0,
    ),
  );
  return answered
    ? new GatewayError(
        502,
        "OUTLAST_GATEWAY_UPSTREAM_FAILED",
        `every target of "${route.requested}" failed: ${list}`,
        { tried, retryAfterMs: retry || 1000 },
      )
    : new GatewayError(
        503,
        "OUTLAST_GATEWAY_UPSTREAM_UNAVAILABLE",
        `no target of "${route.requested}" could be reached: ${list}`,
        { tried, retryAfterMs: retry || 1000 },
      );
}

/** A gateway.caps cap refused the call (before any target): its 429, naming the cap. */
export function capRefusal(err: CapUnavailable, input: number, output: number): GatewayError {
  if (err.quota.tooLarge) {
    return new GatewayError(
      429,
      "OUTLAST_GATEWAY_TOO_LARGE",
      `${err.message} (input ${input} tokens, output bound ${output})`,
    );
  }
  return new GatewayError(429, "OUTLAST_GATEWAY_RATE_LIMITED", err.message, {
    retryAfterMs: err.quota.retryAfterMs,
    limit: `${err.cap.label} ${err.quota.blocked}`,
    headers: rateLimitHeaders(err.cap.spec.caps, err.quota),
  });
}

/** The limiter's store could not be reached. */
export function storeUnavailable(err: unknown): GatewayError {
  return new GatewayError(
    503,
    "OUTLAST_GATEWAY_STORE_UNAVAILABLE",
    `the limiter's store is unavailable: ${(err as Error).message}`,
    { retryAfterMs: 1000 },
  );
}

/** OpenAI-style `x-ratelimit-*` headers: the gateway's own view of the bucket that held a call. */
function rateLimitHeaders(caps: Caps, e: QuotaUnavailable): Record<string, string> {
  const [rpm, tpm] = caps;
  const reset = `${Math.max(1, Math.ceil(e.retryAfterMs))}ms`;
  const h: Record<string, string> = {};
  if (rpm !== null) {
    h["x-ratelimit-limit-requests"] = String(rpm);
    h["x-ratelimit-remaining-requests"] = e.blocked === "rpm" ? "0" : String(rpm);
    h["x-ratelimit-reset-requests"] = e.blocked === "rpm" ? reset : "0s";
  }
  if (tpm !== null) {
    h["x-ratelimit-limit-tokens"] = String(tpm);
    h["x-ratelimit-remaining-tokens"] = e.blocked === "tpm" ? "0" : String(tpm);
    h["x-ratelimit-reset-tokens"] = e.blocked === "tpm" ? reset : "0s";
  }
  return h;
}
