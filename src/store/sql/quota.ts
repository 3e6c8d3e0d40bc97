/**
 * SQL for quota-aware scheduling: learning forecasts and counting runs. The gateway's
 * buckets are read through the gateway (`Gateway.buckets`, GATEWAY_PEEK), not here.
 */

/**
 * What an agent's recent successful runs cost: per run, LLM calls and tokens billed and
 * the run's duration; the caller takes percentiles. Newest 50 runs.
 * $1 agent
 */
export const RECENT_RUN_COSTS = `
SELECT r.id, count(c.id)::int AS calls,
  coalesce(sum(c.input_tokens + c.output_tokens), 0)::int AS tokens,
  greatest(extract(epoch FROM r.finished_at - r.started_at), 0.001)::float8 AS seconds,
  array_remove(array_agg(DISTINCT c.requested), NULL) AS models
FROM (SELECT id, started_at, finished_at FROM outlast.runs
      WHERE agent = $1 AND status = 'succeeded' AND parent_run_id IS NULL
      ORDER BY finished_at DESC LIMIT 50) r
JOIN outlast.gateway_calls c ON c.run_id = r.id::text
GROUP BY r.id, r.started_at, r.finished_at`;

/**
 * The pace of an agent's recent LLM calls (any run, finished or not): tokens per call and
 * the time a call takes at the provider — without its wait for quota, which would make
 * throttled runs look slow (migration 008). $1 agent
 */
export const RECENT_CALL_PACE = `
SELECT count(*)::int AS calls,
  coalesce(avg(input_tokens + output_tokens), 0)::float8 AS tokens_per_call,
  coalesce(avg(coalesce(upstream_ms, latency_ms)), 0)::float8 AS latency_ms,
  coalesce(array_agg(DISTINCT requested), '{}') AS models
FROM (SELECT input_tokens, output_tokens, latency_ms, upstream_ms, requested
      FROM outlast.gateway_calls
      WHERE agent = $1 AND outcome = 'ok' ORDER BY id DESC LIMIT 200) c`;

/** A project's runs throttled right now, by the limit that holds them. $1 project */
export const THROTTLED_BY_LIMIT = `
SELECT waiting_for ->> 'limit' AS limit, count(*)::int AS runs,
  min(available_at) AS next_eta
FROM outlast.runs WHERE status = 'throttled' AND project = $1
GROUP BY 1`;

/**
 * Runs of an agent executing now, and waiting as throttled: all of them, or those a
 * `gateway.caps` cap holds — with one tag (a feature's or tenant's cap), or of one project
 * (a project's cap).
 * $1 agent, $2 tag (`tenant`, `feature`) or NULL for all, $3 its value, $4 project or NULL
 */
export const RUNNING_OF_AGENT = `
SELECT count(*) FILTER (WHERE status = 'running')::int AS n,
  count(*) FILTER (WHERE status = 'throttled')::int AS waiting
FROM outlast.runs
WHERE agent = $1 AND status IN ('running', 'throttled')
  AND ($2::text IS NULL OR tags ->> $2::text = $3::text)
  AND ($4::text IS NULL OR project = $4::text)`;

/**
 * RUNNING_OF_AGENT by tenant (`tags.tenant`, '' when untagged), for the fair split of a
 * full rate share. $1 agent, $2 tag or NULL, $3 its value, $4 project or NULL (as in
 * RUNNING_OF_AGENT)
 */
export const RUNNING_OF_AGENT_BY_TENANT = `
SELECT coalesce(tags ->> 'tenant', '') AS tenant,
  count(*) FILTER (WHERE status = 'running')::int AS running,
  count(*) FILTER (WHERE status = 'throttled')::int AS waiting
FROM outlast.runs
WHERE agent = $1 AND status IN ('running', 'throttled')
  AND ($2::text IS NULL OR tags ->> $2::text = $3::text)
  AND ($4::text IS NULL OR project = $4::text)
GROUP BY 1`;
