/**
 * What `GET /metrics` reads at scrape time (src/metrics/scrape.ts): a handful of
 * aggregates, run in parallel, none on the run or step hot path. Costs, on the 100,000-run
 * database of bench/retention.ts: the runs-by-status count is an index-only scan of
 * runs_status_idx (the only one that grows with history; retention bounds it); the others
 * read partial indexes or small tables.
 */

/** Runs per queue and status. */
export const METRICS_RUNS = `
SELECT queue, status, count(*)::float8 AS n FROM outlast.runs GROUP BY queue, status`;

/**
 * Ready runs per queue (due now: queued, throttled or waiting with available_at passed) and
 * the age in seconds of the oldest; runs_ready_idx is partial on exactly these statuses.
 */
export const METRICS_QUEUES = `
SELECT queue, count(*)::float8 AS depth,
  extract(epoch FROM now() - min(available_at))::float8 AS oldest_seconds
FROM outlast.runs
WHERE status IN ('queued', 'waiting', 'throttled') AND available_at <= now()
  AND available_at < 'infinity'::timestamptz
GROUP BY queue`;

/** Live workers (registry rows not expired), their slots and the slots free. */
export const METRICS_WORKERS = `
SELECT count(*)::float8 AS live, coalesce(sum(concurrency), 0)::float8 AS slots,
  coalesce(sum(greatest(concurrency - coalesce(slots_in_use, 0), 0)), 0)::float8 AS free
FROM outlast.workers WHERE expires_at > now()`;

/**
 * Gateway totals since the first recorded call, from the day rollups (migration 012: a few
 * rows a day per key; rollups are never pruned, so these only grow).
 */
export const METRICS_USAGE = `
SELECT coalesce(model, requested) AS model, coalesce(feature, '') AS feature,
  coalesce(tenant, '') AS tenant, outcome, sum(calls)::float8 AS calls,
  sum(input_tokens)::float8 AS input_tokens, sum(output_tokens)::float8 AS output_tokens,
  sum(cost_usd)::float8 AS cost_usd
FROM outlast.usage_rollups WHERE width = 86400
GROUP BY 1, 2, 3, 4`;

/**
 * Webhook and notifier deliveries by status, and the age of the oldest pending one (its
 * lag). The pending part reads webhook_deliveries_due_idx; the rest is bounded by
 * retention.deliveries.
 */
export const METRICS_DELIVERIES = `
SELECT status, count(*)::float8 AS n,
  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
FROM outlast.webhook_deliveries GROUP BY status`;

/** Callers waiting on each rate-limit key (expired waiters, whose process died, excluded). */
export const METRICS_LIMIT_WAITERS = `
SELECT key, count(*)::float8 AS n FROM outlast.gateway_waiters
WHERE expires_ms > outlast.gateway_now_ms() GROUP BY key`;
