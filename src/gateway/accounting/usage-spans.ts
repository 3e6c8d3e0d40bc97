/**
 * How `/v1/usage` splits a range [from, to) for the rollups (migration 012): the whole UTC
 * days inside it come from day rollups, the whole hours left at either end from hour
 * rollups, the whole minutes left from minute rollups, and only the partial minutes at
 * the very edges (from or to not on a minute) from raw calls. So a range is answered to
 * the millisecond, exactly as the raw query would, while reading at most two minutes of
 * raw rows, 2×59 minute rows and 2×23 hour rows per key besides the days.
 *
 * Raw rows are pruned after `retention.usage` (30 days by default); an edge minute older
 * than that counts only the raw rows still kept (choose minute-aligned bounds there).
 */

/** A span: `width` 0 reads raw calls, else rollups of that width in seconds. */
export interface UsageSpan {
  width: number;
  from: Date;
  to: Date;
}

/** Rollup widths in seconds, widest first. */
export const ROLLUP_WIDTHS = [86_400, 3_600, 60] as const;

/**
 * The spans covering [from, to) exactly, without overlap, in time order, with rollups no
 * wider than `maxWidth` seconds (grouping by hour cannot read day rollups).
 *
 * @example
 * usageSpans(new Date("2026-01-01T10:00:30Z"), new Date("2026-01-03T00:00:00Z"));
 * // raw 10:00:30–10:01, minutes 10:01–11:00, hours 11:00–00:00, day Jan 2
 */
export function usageSpans(from: Date, to: Date, maxWidth = 86_400): UsageSpan[] {
  const out: UsageSpan[] = [];
  const first = ROLLUP_WIDTHS.findIndex((w) => w <= maxWidth);
  split(from.getTime(), to.getTime(), first < 0 ? ROLLUP_WIDTHS.length : first, out);
  return out;
}

function split(lo: number, hi: number, level: number, out: UsageSpan[]): void {
  if (hi <= lo) return;
  const widthS = ROLLUP_WIDTHS[level];
  if (widthS === undefined) {
    out.push({ width: 0, from: new Date(lo), to: new Date(hi) });
    return;
  }
  const w = widthS * 1000;
  const a = Math.ceil(lo / w) * w;
  const b = Math.floor(hi / w) * w;
  if (a >= b) {
    split(lo, hi, level + 1, out);
    return;
  }
  split(lo, a, level + 1, out);
  out.push({ width: widthS, from: new Date(a), to: new Date(b) });
  split(b, hi, level + 1, out);
}
