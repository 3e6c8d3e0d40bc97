/**
 * Time formats the providers put in headers and messages.
 */

/**
 * Formats milliseconds the way Go's `time.Duration.String()` does, which is what OpenAI
 * sends in `x-ratelimit-reset-*` and in "Please try again in …": `120ms`, `1s`, `1m30.5s`,
 * `6m0s`, `1h0m0s`. Rounded up to the millisecond so a client that waits exactly this long
 * is never early.
 *
 * @example goDuration(90_500) // "1m30.5s"
 */
export function goDuration(ms: number): string {
  const total = Math.ceil(ms);
  if (!(total > 0)) return "0s";
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const secs = millis % 1000 === 0 ? String(millis / 1000) : trimZeros((millis / 1000).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${secs}s`;
  if (minutes > 0) return `${minutes}m${secs}s`;
  return `${secs}s`;
}

function trimZeros(fixed: string): string {
  return fixed.replace(/0+$/, "").replace(/\.$/, "");
}

/**
 * RFC 3339 timestamp at whole-second precision, rounded up, as Anthropic sends in
 * `anthropic-ratelimit-*-reset` (`2025-01-27T17:32:52Z`).
 *
 * @example rfc3339(Date.UTC(2025, 0, 1, 0, 0, 0, 1)) // "2025-01-01T00:00:01Z"
 */
export function rfc3339(epochMs: number): string {
  return new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
