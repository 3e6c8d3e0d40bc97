const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1500`, `"1500ms"`, `"90s"`, `"5m"`, `"2h"`, `"1d"` → milliseconds. */
export function parseDuration(d: number | string): number {
  if (typeof d === "number") {
    if (!Number.isFinite(d) || d < 0)
      throw new TypeError(`duration must be a non-negative number of ms, got ${d}`);
    return d;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(d);
  if (!m)
    throw new TypeError(
      `duration "${d}" is not understood; use ms or a string like "90s", "5m", "2h"`,
    );
  return Number(m[1]) * (UNITS[m[2] as string] ?? 1);
}
