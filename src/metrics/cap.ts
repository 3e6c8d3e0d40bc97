/**
 * Caps a label with unbounded values (tenant, feature, rate-limit key): the `n` values with
 * the largest totals keep their name, the rest become `other`, so a deployment with 50,000
 * tenants exports 21 series per metric and not 50,000. Which values are on top can change
 * between scrapes: a value that drops out moves its total into `other` (a dashboard's
 * `sum without (tenant)` stays right; a per-tenant rate() across the change does not).
 */
export const OTHER = "other";

/** The values of `label` to keep: the top `n` by `weight` (ties: by name, for stable output). */
export function topValues<R>(
  rows: readonly R[],
  label: (r: R) => string,
  weight: (r: R) => number,
  n: number,
): Set<string> {
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(label(r), (totals.get(label(r)) ?? 0) + weight(r));
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return new Set(ranked.slice(0, n).map(([v]) => v));
}

/**
 * Rows re-keyed with capped labels and summed: `labels` gives each row's labels (already
 * capped by the caller), `values` its numbers; rows with equal labels are added up.
 */
export function sumBy<R>(
  rows: readonly R[],
  labels: (r: R) => Record<string, string>,
  values: (r: R) => number[],
): { labels: Record<string, string>; values: number[] }[] {
  const out = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const r of rows) {
    const l = labels(r);
    const key = JSON.stringify(l);
    const v = values(r);
    const prev = out.get(key);
    if (prev) prev.values = prev.values.map((x, i) => x + (v[i] ?? 0));
    else out.set(key, { labels: l, values: v });
  }
  return [...out.values()];
}
