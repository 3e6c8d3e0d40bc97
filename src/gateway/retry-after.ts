/**
 * How long a provider asks us to wait, from its response headers, in ms. Order follows the
 * official SDKs: `retry-after-ms`, then `retry-after` (seconds or an HTTP date), then the
 * OpenAI reset headers (Go-style durations such as `1m30.5s`, `644ms`), then Anthropic's
 * (RFC 3339 instants). Reset headers only count when `remaining` says that limit is spent:
 * a full bucket's reset time is not a reason to wait.
 */
import type { ReplyHeaders } from "./providers/transport.js";

export function retryAfterMs(headers: ReplyHeaders, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get("retry-after");
  if (ra !== null) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
    const date = Date.parse(ra);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const resets: number[] = [];
  for (const dim of ["requests", "tokens"]) {
    const v = headers.get(`x-ratelimit-reset-${dim}`);
    const d = v === null ? undefined : parseGoDuration(v);
    if (d !== undefined && spent(headers.get(`x-ratelimit-remaining-${dim}`))) resets.push(d);
  }
  for (const dim of ["requests", "tokens", "input-tokens", "output-tokens"]) {
    const v = headers.get(`anthropic-ratelimit-${dim}-reset`);
    const at = v === null ? Number.NaN : Date.parse(v);
    if (Number.isFinite(at) && spent(headers.get(`anthropic-ratelimit-${dim}-remaining`))) {
      resets.push(Math.max(0, at - now));
    }
  }
  return resets.length > 0 ? Math.max(...resets) : undefined;
}

/** A remaining-quota header that is absent or zero (unknown counts as spent). */
function spent(remaining: string | null): boolean {
  return remaining === null || Number(remaining) <= 0;
}

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
};

/** Parses Go's time.Duration format (`6m0s`, `120ms`, `1.5s`); undefined if it is not one. */
export function parseGoDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g;
  let total = 0;
  let matched = "";
  for (const m of s.trim().matchAll(re)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
    matched += m[0];
  }
  return matched.length > 0 && matched === s.trim() ? total : undefined;
}
