/**
 * `GET /v1/usage` from rollups (migration 012): a range is split into spans
 * (src/gateway/accounting/usage-spans.ts) — whole days, hours and minutes read from
 * outlast.usage_rollups, and the partial minutes at its edges from the raw gateway_calls —
 * and the spans' rows are summed as the raw query sums calls (usageTotalsSql).
 */
import { USAGE_GROUPS, type UsageGroup } from "./gateway.js";

/** Groups that rollups cannot answer (unbounded keys they leave out): raw rows only. */
export const RAW_ONLY_GROUPS: ReadonlySet<UsageGroup> = new Set(["run", "step"]);

/**
 * Usage totals over spans, grouped by whitelisted columns only (validated against
 * USAGE_GROUPS before it gets here; none may be in RAW_ONLY_GROUPS). The same columns and
 * types as usageTotalsSql.
 * $1 widths int[] (0: raw rows, else a rollup width in seconds), $2 from timestamptz[],
 * $3 to timestamptz[] — parallel arrays, one entry a span
 */
export function usageFromRollupsSql(groups: readonly UsageGroup[]): string {
  const cols = groups.map((g) => `${USAGE_GROUPS[g]} AS ${g}`);
  const by = groups.map((_, i) => String(i + 1));
  return `
WITH spans AS (
  SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::timestamptz[]) AS s(width, lo, hi)
), rows AS (
  SELECT u.bucket AS at, u.project, u.requested, u.provider, u.model, u.agent, u.feature,
    u.tenant, u.outcome, u.calls, u.input_tokens, u.output_tokens, u.cached_tokens,
    u.cost_usd, u.latency_ms
  FROM spans s JOIN outlast.usage_rollups u
    ON u.width = s.width AND u.bucket >= s.lo AND u.bucket < s.hi
  WHERE s.width > 0
  UNION ALL
  SELECT c.at, c.project, c.requested, c.provider, c.model, c.agent, c.feature, c.tenant,
    c.outcome, 1, c.input_tokens, c.output_tokens, c.cached_tokens, c.cost_usd, c.latency_ms
  FROM spans s JOIN outlast.gateway_calls c ON c.at >= s.lo AND c.at < s.hi
  WHERE s.width = 0
)
SELECT ${[...cols, ""].join(", ")}
  coalesce(sum(calls), 0)::int AS requests,
  coalesce(sum(calls) FILTER (WHERE outcome = 'ok'), 0)::int AS ok,
  coalesce(sum(calls) FILTER (WHERE outcome = 'cache_hit'), 0)::int AS cache_hits,
  coalesce(sum(calls) FILTER (WHERE outcome NOT IN ('ok', 'cache_hit')), 0)::int AS errors,
  coalesce(sum(input_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS input_tokens,
  coalesce(sum(output_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS output_tokens,
  coalesce(sum(cached_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS cached_tokens,
  coalesce(sum(input_tokens + output_tokens) FILTER (WHERE outcome = 'cache_hit'), 0)::float8
    AS saved_tokens,
  coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
  coalesce(sum(latency_ms)::float8 / nullif(sum(calls), 0), 0)::float8 AS avg_latency_ms
FROM rows
${by.length > 0 ? `GROUP BY ${by.join(", ")} ORDER BY ${by.join(", ")}` : ""}`;
}
