/**
 * `GET /v1/usage` from rollups (migration 012): a range is split into spans
 * (src/gateway/accounting/usage-spans.ts) — whole days, hours and minutes read from
 * outlast.usage_rollups, and the partial minutes at its edges from the raw gateway_calls —
 * and the spans' rows are summed as the raw query sums calls (usageTotalsSql).
 */
import { USAGE_GROUPS, type UsageGroup } from "./gateway.js";

/** For the transaction of a rollup query: its few thousand rows are read faster alone. */
export const USAGE_NO_PARALLEL = "SET LOCAL max_parallel_workers_per_gather = 0";

/**
 * Grouping by day or hour: rows are grouped by the truncated timestamp and only each
 * group's label is formatted. Grouping by the label itself ran `to_char` once per rollup
 * row: grouped by hour over 30 days that is every hour row of the month (216,000 in
 * bench/usage.ts), and formatting them was most of the query's time.
 */
const TIME_GROUPS = {
  day: {
    key: "date_trunc('day', at AT TIME ZONE 'UTC')",
    label: "to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
  },
  hour: {
    key: "date_trunc('hour', at AT TIME ZONE 'UTC')",
    label: `to_char(date_trunc('hour', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"')`,
  },
} as const;

/**
 * Groups the usage totals (migration 014: per project and outcome) can answer. Grouped by
 * any of these only, the rollup spans are read from `usage_totals`: a month by hour is a
 * few thousand rows there, and a row per hour and key in `usage_rollups`.
 */
export const TOTALS_GROUPS: ReadonlySet<UsageGroup> = new Set([
  "project",
  "outcome",
  "day",
  "hour",
]);

/** Groups that rollups cannot answer (unbounded keys they leave out): raw rows only. */
export const RAW_ONLY_GROUPS: ReadonlySet<UsageGroup> = new Set(["run", "step"]);

/**
 * Usage totals over spans, grouped by whitelisted columns only (validated against
 * USAGE_GROUPS before it gets here; none may be in RAW_ONLY_GROUPS). The same columns and
 * types as usageTotalsSql. One UNION ALL branch per span, each a range scan of its own
 * index (usage_rollups_key, gateway_calls_at_idx): with the spans in one unnest() joined
 * to the rollups, the planner hash-joined a sequential scan of every rollup row (190 ms
 * for 300,000 rollup rows, against a few ms).
 * `raw[i]` says whether span i reads raw calls; its parameters are $(3i+1) width (0 for
 * raw), $(3i+2) from, $(3i+3) to; after the spans' parameters, the project (null: all).
 * PostgreSQL inlines `rows` and pushes the project condition into every branch. `totals`:
 * read the rollup spans from usage_totals (the groups must all be in TOTALS_GROUPS; the
 * columns it does not keep read as null).
 */
export function usageFromRollupsSql(
  groups: readonly UsageGroup[],
  raw: readonly boolean[],
  totals = false,
): string {
  const cols = groups.map((g) => {
    const t = TIME_GROUPS[g as keyof typeof TIME_GROUPS];
    return t ? `${t.label} AS ${g}` : `${USAGE_GROUPS[g]} AS ${g}`;
  });
  const by = groups.map((g, i) => TIME_GROUPS[g as keyof typeof TIME_GROUPS]?.key ?? String(i + 1));
  const branches = raw.map((isRaw, i) => {
    const [w, lo, hi] = [3 * i + 1, 3 * i + 2, 3 * i + 3].map((n) => `$${n}`);
    return isRaw
      ? `SELECT c.at, c.project, c.requested, c.provider, c.model, c.agent, c.feature, c.tenant,
    c.outcome, 1::bigint AS calls, c.input_tokens::bigint, c.output_tokens::bigint,
    c.cached_tokens::bigint, c.cost_usd::numeric, c.latency_ms::bigint
  FROM outlast.gateway_calls c
  WHERE ${w}::int = 0 AND c.at >= ${lo}::timestamptz AND c.at < ${hi}::timestamptz`
      : totals
        ? `SELECT u.bucket, u.project, NULL::text, NULL::text, NULL::text, NULL::text,
    NULL::text, NULL::text, u.outcome, u.calls, u.input_tokens, u.output_tokens,
    u.cached_tokens, u.cost_usd, u.latency_ms
  FROM outlast.usage_totals u
  WHERE u.width = ${w}::int AND u.bucket >= ${lo}::timestamptz AND u.bucket < ${hi}::timestamptz`
        : `SELECT u.bucket, u.project, u.requested, u.provider, u.model, u.agent, u.feature,
    u.tenant, u.outcome, u.calls, u.input_tokens, u.output_tokens, u.cached_tokens,
    u.cost_usd, u.latency_ms
  FROM outlast.usage_rollups u
  WHERE u.width = ${w}::int AND u.bucket >= ${lo}::timestamptz AND u.bucket < ${hi}::timestamptz`;
  });
  // No span (an empty range): one branch that finds nothing keeps the columns' types.
  if (branches.length === 0) {
    branches.push(`SELECT u.bucket, u.project, u.requested, u.provider, u.model, u.agent,
    u.feature, u.tenant, u.outcome, u.calls, u.input_tokens, u.output_tokens,
    u.cached_tokens, u.cost_usd, u.latency_ms
  FROM outlast.usage_rollups u WHERE false`);
  }
  return `
WITH rows (at, project, requested, provider, model, agent, feature, tenant, outcome, calls,
  input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms) AS (
  ${branches.join("\n  UNION ALL\n  ")}
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
WHERE ($${3 * raw.length + 1}::text IS NULL OR project = $${3 * raw.length + 1})
${by.length > 0 ? `GROUP BY ${by.join(", ")} ORDER BY ${by.join(", ")}` : ""}`;
}
