/**
 * SQL of the AI gateway: limiter buckets, the response cache and call accounting. The
 * limiter's read-modify-write steps are PL/pgSQL functions from migrations/002_gateway.sql
 * so that each is one round trip under one row lock. Dimension arrays are ordered
 * [rpm, tpm, itpm, otpm, tpd]; NULL capacity = unlimited.
 */

/**
 * Take quota, all of `need` or nothing, plus up to `extra` prefetched credit.
 * $1 key, $2 caps float8[], $3 concurrency int|null, $4 need float8[], $5 extra float8[],
 * $6 slots int, $7 owner, $8 lease ms
 * → granted float8[]|null, blocked text|null, wait_ms float8
 */
export const GATEWAY_TAKE = `
SELECT granted, blocked, wait_ms
FROM outlast.gateway_take($1, $2::float8[], $3::int, $4::float8[], $5::float8[], $6::int, $7, $8::float8)`;

/**
 * Give back credit (negative: pay a debt) and concurrency slots.
 * $1 key, $2 refund float8[], $3 slots int, $4 owner
 */
export const GATEWAY_GIVE = `SELECT outlast.gateway_give($1, $2::float8[], $3::int, $4) AS done`;

/**
 * A provider 429 said to wait: pause the key for every process and tell them. The row may
 * be missing: GATEWAY_SWEEP deletes a bucket untouched for an hour, and a process can
 * spend credit it took earlier that long without touching it. Then the row is made, with
 * no caps and no levels (full at the next take, which sets the caps).
 * $1 key, $2 ms from now
 */
export const GATEWAY_PAUSE = `
WITH upd AS (
  INSERT INTO outlast.gateway_buckets AS b (key, caps, levels, updated_ms, paused_until_ms)
  VALUES ($1, '{NULL,NULL,NULL,NULL,NULL}', '{NULL,NULL,NULL,NULL,NULL}',
    outlast.gateway_now_ms(), outlast.gateway_now_ms() + $2::float8)
  ON CONFLICT (key) DO UPDATE
  SET paused_until_ms = greatest(b.paused_until_ms, EXCLUDED.paused_until_ms)
  RETURNING b.paused_until_ms - outlast.gateway_now_ms() AS left_ms
)
SELECT pg_notify('outlast_gateway', 'p ' || $1 || ' ' || round(left_ms)::text) IS NULL AS notified
FROM upd`;

/**
 * Correct the shared view from a provider's remaining-quota headers: the provider's level
 * now is at most `remaining` plus what refilled since the request was sent, so lowering
 * ours to that bound never undercounts what is really left (ARCHITECTURE.md).
 * $1 key, $2 remaining float8[] (NULL where not reported), $3 ms since the request was sent
 */
export const GATEWAY_OBSERVE = `
UPDATE outlast.gateway_buckets b
SET levels = (
      SELECT array_agg(
        CASE WHEN r.rem IS NULL OR r.lv IS NULL THEN r.lv
             ELSE least(r.lv, r.rem + $3::float8 * r.cap / r.period) END ORDER BY r.i)
      FROM unnest(
        outlast.gateway_refill(b.caps, b.caps, b.levels,
          greatest(0, outlast.gateway_now_ms() - b.updated_ms)),
        $2::float8[], b.caps, ARRAY[60000, 60000, 60000, 60000, 86400000]::float8[])
        WITH ORDINALITY AS r(lv, rem, cap, period, i)
    ),
    updated_ms = greatest(b.updated_ms, outlast.gateway_now_ms())
WHERE key = $1`;

/**
 * Delete limiter rows nothing needs (migration 009), up to $2 of each kind:
 * - buckets idle for $1 ms, refilled to full, with no pause, no live waiter and no slot
 *   held under a lease renewed within those $1 ms — a take recreates such a bucket exactly
 *   as it was (slots of a process dead that long are what its reclaim would give back);
 *   rows a take holds locked are skipped; their leases go with them;
 * - leases whose slots were all given back (a process's leases stay behind it otherwise);
 * - waiters that lapsed over a minute ago (as gateway_take deletes them on a busy key).
 * Without it a `"*"` cap leaves a bucket behind for every name a caller ever sent. It scans
 * the buckets (no index on updated_ms: every take and give writes it, and an index would
 * cost them their HOT updates).
 * $1 idle ms, $2 batch → buckets, leases, waiters deleted
 */
export const GATEWAY_SWEEP = `
WITH clock AS (SELECT outlast.gateway_now_ms() AS now_ms),
buckets AS (
  DELETE FROM outlast.gateway_buckets WHERE key IN (
    SELECT b.key FROM outlast.gateway_buckets b, clock c
    WHERE b.updated_ms < c.now_ms - $1::float8 AND b.paused_until_ms <= c.now_ms
      AND NOT EXISTS (
        SELECT 1 FROM unnest(
          outlast.gateway_refill(b.caps, b.caps, b.levels, c.now_ms - b.updated_ms), b.caps
        ) AS r(level, cap)
        WHERE r.cap IS NOT NULL AND r.level < r.cap)
      AND NOT EXISTS (
        SELECT 1 FROM outlast.gateway_waiters w
        WHERE w.key = b.key AND w.expires_ms > c.now_ms)
      AND NOT EXISTS (
        SELECT 1 FROM outlast.gateway_leases l
        WHERE l.key = b.key AND l.slots > 0 AND l.expires_ms >= c.now_ms - $1::float8)
    LIMIT $2::int FOR UPDATE OF b SKIP LOCKED)
  RETURNING key),
leases AS (
  DELETE FROM outlast.gateway_leases
  WHERE (key, owner) IN (
      SELECT key, owner FROM outlast.gateway_leases WHERE slots = 0
      LIMIT $2::int FOR UPDATE SKIP LOCKED)
    OR key IN (SELECT key FROM buckets)
  RETURNING 1),
waiters AS (
  DELETE FROM outlast.gateway_waiters WHERE (key, owner) IN (
    SELECT w.key, w.owner FROM outlast.gateway_waiters w, clock c
    WHERE w.expires_ms < c.now_ms - 60000
    LIMIT $2::int FOR UPDATE OF w SKIP LOCKED)
  RETURNING 1)
SELECT (SELECT count(*) FROM buckets)::int AS buckets,
  (SELECT count(*) FROM leases)::int AS leases,
  (SELECT count(*) FROM waiters)::int AS waiters`;

/**
 * Buckets as the next take would find them, taking nothing: levels refilled to the
 * database's now by the take's own gateway_refill (from the caps asked for, as a take
 * passes its caps), and the slots in flight less those of lapsed leases, which a take
 * reclaims (looked up only when a slot is held: keys without a concurrency limit never
 * hold one). A key without a row reads full, as a take would make it. Takes no lock.
 * $1 jsonb [{key, caps float8[5]}] → key, levels float8[], in_flight, paused_until_ms, now_ms
 */
export const GATEWAY_PEEK = `
WITH clock AS (SELECT outlast.gateway_now_ms() AS now_ms)
SELECT k.key,
  outlast.gateway_refill(b.caps, k.caps, b.levels, c.now_ms - b.updated_ms) AS levels,
  CASE WHEN b.in_flight > 0 THEN greatest(0, b.in_flight - coalesce((
    SELECT sum(l.slots) FROM outlast.gateway_leases l
    WHERE l.key = k.key AND l.expires_ms < c.now_ms), 0)) ELSE 0 END::int AS in_flight,
  coalesce(b.paused_until_ms, 0) AS paused_until_ms, c.now_ms
FROM clock c
CROSS JOIN jsonb_to_recordset($1::jsonb) AS k(key text, caps float8[])
LEFT JOIN outlast.gateway_buckets b ON b.key = k.key`;

/**
 * Keys of the buckets that exist with a prefix (a `"*"` cap makes one per name seen).
 * $1 key prefix, $2 how many at most
 */
export const GATEWAY_BUCKET_KEYS = `
SELECT key FROM outlast.gateway_buckets WHERE starts_with(key, $1) ORDER BY key LIMIT $2`;

/** Keep this process's concurrency leases alive. $1 owner, $2 lease ms */
export const GATEWAY_RENEW_LEASES = `
UPDATE outlast.gateway_leases SET expires_ms = outlast.gateway_now_ms() + $2::float8
WHERE owner = $1 AND slots > 0`;

/** $1 key → body, usage, provider, model of a live entry */
export const GATEWAY_CACHE_GET = `
SELECT body, usage, provider, model FROM outlast.gateway_cache
WHERE key = $1 AND expires_at > now()`;

/** $1 key, $2 body, $3 usage jsonb, $4 provider, $5 model, $6 ttl seconds */
export const GATEWAY_CACHE_PUT = `
INSERT INTO outlast.gateway_cache (key, body, usage, provider, model, expires_at)
VALUES ($1, $2, $3::jsonb, $4, $5, now() + $6::int * interval '1 second')
ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, usage = EXCLUDED.usage,
  provider = EXCLUDED.provider, model = EXCLUDED.model, expires_at = EXCLUDED.expires_at`;

/** Drop up to 1,000 expired entries per call (bounded, so it never holds locks long). */
export const GATEWAY_CACHE_SWEEP = `
DELETE FROM outlast.gateway_cache WHERE key IN (
  SELECT key FROM outlast.gateway_cache WHERE expires_at <= now() LIMIT 1000)`;

/**
 * Record a batch of calls in one statement (group commit).
 * $1 jsonb: [{at, project, agent, run_id, step, feature, tenant, requested, provider, model,
 *   outcome, status, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms,
 *   upstream_ms, attempts, stream, error_code}]
 */
export const GATEWAY_INSERT_CALLS = `
INSERT INTO outlast.gateway_calls (at, project, agent, run_id, step, feature, tenant,
  requested, provider, model, outcome, status, input_tokens, output_tokens, cached_tokens,
  cost_usd, latency_ms, upstream_ms, attempts, stream, error_code)
SELECT at, project, agent, run_id, step, feature, tenant, requested, provider, model,
  outcome, status, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms,
  upstream_ms, attempts, stream, error_code
FROM jsonb_to_recordset($1::jsonb) AS x(at timestamptz, project text, agent text,
  run_id text, step text, feature text, tenant text, requested text, provider text,
  model text, outcome text, status int, input_tokens int, output_tokens int,
  cached_tokens int, cost_usd numeric, latency_ms int, upstream_ms int, attempts int,
  stream boolean,
  error_code text)`;

/** Columns `GET /v1/usage` may group by, and the SQL expression of each. */
export const USAGE_GROUPS = {
  provider: "provider",
  model: "model",
  requested: "requested",
  project: "project",
  agent: "agent",
  run: "run_id",
  step: "step",
  feature: "feature",
  tenant: "tenant",
  outcome: "outcome",
  day: "to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
  hour: `to_char(date_trunc('hour', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00"Z"')`,
} as const;

export type UsageGroup = keyof typeof USAGE_GROUPS;

/**
 * Usage totals between two instants, grouped by whitelisted columns only (the group list
 * is validated against USAGE_GROUPS before it gets here, so nothing from a request is
 * interpolated). Tokens and cost count provider calls only; cache hits are counted apart.
 * $1 from timestamptz, $2 to timestamptz
 */
export function usageTotalsSql(groups: readonly UsageGroup[]): string {
  const cols = groups.map((g) => `${USAGE_GROUPS[g]} AS ${g}`);
  const by = groups.map((_, i) => String(i + 1));
  return `
SELECT ${[...cols, ""].join(", ")}
  count(*)::int AS requests,
  count(*) FILTER (WHERE outcome = 'ok')::int AS ok,
  count(*) FILTER (WHERE outcome = 'cache_hit')::int AS cache_hits,
  count(*) FILTER (WHERE outcome NOT IN ('ok', 'cache_hit'))::int AS errors,
  coalesce(sum(input_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS input_tokens,
  coalesce(sum(output_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS output_tokens,
  coalesce(sum(cached_tokens) FILTER (WHERE outcome <> 'cache_hit'), 0)::float8 AS cached_tokens,
  coalesce(sum(input_tokens + output_tokens) FILTER (WHERE outcome = 'cache_hit'), 0)::float8
    AS saved_tokens,
  coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
  coalesce(avg(latency_ms), 0)::float8 AS avg_latency_ms
FROM outlast.gateway_calls
WHERE at >= $1::timestamptz AND at < $2::timestamptz AND ($3::text IS NULL OR project = $3)
${by.length > 0 ? `GROUP BY ${by.join(", ")} ORDER BY ${by.join(", ")}` : ""}`;
}
