/**
 * SQL of the retention pruner (src/retention). Every statement deletes a bounded number of
 * rows, oldest first, along an index of migration 012, and skips rows someone holds.
 */

/** Terminal run statuses, as the partial index runs_finished_idx lists them. */
const TERMINAL = `('succeeded', 'failed', 'cancelled')`;

/**
 * One pruner at a time across processes: a transaction-scoped advisory lock, so a second
 * process's pass ends at once instead of competing for the same rows.
 * $1 namespace, $2 key → taken boolean
 */
export const TRY_PRUNE_LOCK = `SELECT pg_try_advisory_xact_lock($1::int, $2::int) AS taken`;

/** The pruner never waits for a lock for long (it would rather try next time). */
export const PRUNE_LOCK_TIMEOUT = `SET LOCAL lock_timeout = '50ms'`;

/**
 * Finished runs that may go, oldest first, locked, with how many rows hang off each
 * (steps, events, signals, deliveries and their attempts, per-run webhook endpoints), so
 * the caller can keep a
 * transaction under its row budget. A run is kept while any of its events is pending
 * webhook delivery (not fanned out yet, or with a pending delivery), and while its parent
 * is still in flight (a parent may still read its child). The walk starts after the last
 * run this pass deleted: deleted index entries stay until vacuum can remove them (not
 * while any transaction in the cluster is older), and starting from the oldest every time
 * re-read them all (measured: 144 ms a transaction after 1.6 M rows, against ~30 ms).
 * $1 finished before timestamptz, $2 how many, $3/$4 after (finished_at, id)
 */
export const PRUNABLE_RUNS = `
SELECT r.id, r.finished_at,
  (SELECT count(*) FROM outlast.steps s WHERE s.run_id = r.id)
  + (SELECT count(*) FROM outlast.events e WHERE e.run_id = r.id)
  + (SELECT count(*) FROM outlast.signals g WHERE g.run_id = r.id)
  + (SELECT count(*) FROM outlast.webhook_deliveries d WHERE d.run_id = r.id)
  + (SELECT count(*) FROM outlast.webhook_deliveries d
       JOIN outlast.webhook_attempts a ON a.delivery_id = d.id WHERE d.run_id = r.id)
  + (SELECT count(*) FROM outlast.webhook_endpoints w WHERE w.run_id = r.id)
  + (SELECT count(*) FROM outlast.api_keys k WHERE k.run_id = r.id)
  AS children
FROM outlast.runs r
WHERE r.status IN ${TERMINAL} AND r.finished_at < $1::timestamptz
  AND (r.finished_at, r.id) > ($3::timestamptz, $4::uuid)
  AND NOT EXISTS (
    SELECT 1 FROM outlast.webhook_deliveries d WHERE d.run_id = r.id AND d.status = 'pending')
  AND NOT EXISTS (
    SELECT 1 FROM outlast.events e, outlast.webhook_cursor c
    WHERE e.run_id = r.id AND c.id = 1 AND (e.txid, e.id) > (c.txid, c.event_id))
  -- A scalar subquery, one primary-key probe per candidate: as NOT EXISTS the planner
  -- anti-joined a sequential scan of every run (52 ms of a 64 ms batch at 100,000 runs).
  AND coalesce(
    (SELECT p.status FROM outlast.runs p WHERE p.id = r.parent_run_id), 'succeeded'
  ) IN ${TERMINAL}
ORDER BY r.finished_at, r.id
LIMIT $2::int
FOR UPDATE OF r SKIP LOCKED`;

/**
 * Deletes runs (locked by PRUNABLE_RUNS in this transaction) with everything of theirs.
 * $1 run ids uuid[] → rows deleted
 */
export const DELETE_RUNS = `
WITH st AS (DELETE FROM outlast.steps WHERE run_id = ANY($1::uuid[]) RETURNING 1),
ev AS (DELETE FROM outlast.events WHERE run_id = ANY($1::uuid[]) RETURNING 1),
sg AS (DELETE FROM outlast.signals WHERE run_id = ANY($1::uuid[]) RETURNING 1),
dl AS (DELETE FROM outlast.webhook_deliveries WHERE run_id = ANY($1::uuid[]) RETURNING id),
at AS (
  DELETE FROM outlast.webhook_attempts WHERE delivery_id IN (SELECT id FROM dl) RETURNING 1),
ep AS (DELETE FROM outlast.webhook_endpoints WHERE run_id = ANY($1::uuid[]) RETURNING 1),
-- The run's tokens (migration 013): revoked when it ended, so no process accepts them.
tk AS (DELETE FROM outlast.api_keys WHERE run_id = ANY($1::uuid[]) RETURNING 1),
rn AS (DELETE FROM outlast.runs WHERE id = ANY($1::uuid[]) RETURNING 1)
SELECT ((SELECT count(*) FROM st) + (SELECT count(*) FROM ev) + (SELECT count(*) FROM sg)
  + (SELECT count(*) FROM dl) + (SELECT count(*) FROM at) + (SELECT count(*) FROM ep)
  + (SELECT count(*) FROM tk) + (SELECT count(*) FROM rn))::int AS deleted`;

/**
 * A run with more rows than one transaction may delete loses them over several, in this
 * order (attempts before their deliveries); the run row goes last, with DELETE_RUNS.
 * Each: $1 run id, $2 how many at most → rows deleted
 */
export const DELETE_RUN_PARTS: readonly string[] = [
  `WITH d AS (DELETE FROM outlast.steps WHERE (run_id, seq) IN (
     SELECT run_id, seq FROM outlast.steps WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.events WHERE (run_id, seq) IN (
     SELECT run_id, seq FROM outlast.events WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.signals WHERE id IN (
     SELECT id FROM outlast.signals WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.webhook_attempts WHERE (delivery_id, attempt) IN (
     SELECT a.delivery_id, a.attempt FROM outlast.webhook_deliveries w
     JOIN outlast.webhook_attempts a ON a.delivery_id = w.id
     WHERE w.run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.webhook_deliveries WHERE id IN (
     SELECT id FROM outlast.webhook_deliveries WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.webhook_endpoints WHERE id IN (
     SELECT id FROM outlast.webhook_endpoints WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
  `WITH d AS (DELETE FROM outlast.api_keys WHERE id IN (
     SELECT id FROM outlast.api_keys WHERE run_id = $1::uuid LIMIT $2::int)
   RETURNING 1) SELECT count(*)::int AS deleted FROM d`,
];

/**
 * Old events of runs still kept, examining at most $2 events past a position in
 * events_at_idx order (so events that must stay cost one look per pass, not one per
 * batch). Deleted: events the webhook fan-out has read (at or behind its cursor), that no
 * delivery refers to (pending or not; settled deliveries are pruned on their own clock),
 * and that are not their run's latest event (numbering continues from it).
 * $1 older than timestamptz, $2 examine at most, $3/$4 after (at, id)
 * → seen, deleted, last_at, last_id (the position to continue after)
 */
export const PRUNE_EVENTS = `
WITH seen AS (
  SELECT e.run_id, e.seq, e.at, e.id, e.txid FROM outlast.events e
  WHERE e.at < $1::timestamptz AND (e.at, e.id) > ($3::timestamptz, $4::bigint)
  ORDER BY e.at, e.id
  LIMIT $2::int
), cur AS (
  SELECT txid, event_id FROM outlast.webhook_cursor WHERE id = 1
), gone AS (
  DELETE FROM outlast.events e USING seen s, cur c
  WHERE e.run_id = s.run_id AND e.seq = s.seq
    AND (s.txid, s.id) <= (c.txid, c.event_id)
    AND s.seq < (SELECT max(x.seq) FROM outlast.events x WHERE x.run_id = s.run_id)
    AND NOT EXISTS (
      SELECT 1 FROM outlast.webhook_deliveries d WHERE d.run_id = s.run_id AND d.event_id = s.id)
  RETURNING 1
), last AS (
  SELECT at, id FROM seen ORDER BY at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM seen)::int AS seen, (SELECT count(*) FROM gone)::int AS deleted,
  (SELECT at FROM last) AS last_at, (SELECT id FROM last)::text AS last_id`;

/**
 * Raw gateway call rows, oldest first, from where this pass got to (as PRUNABLE_RUNS);
 * their rollups stay (migration 012).
 * $1 older than timestamptz, $2 how many, $3 from timestamptz → rows deleted, last (at)
 */
export const PRUNE_USAGE = `
WITH d AS (
  DELETE FROM outlast.gateway_calls WHERE id IN (
    SELECT id FROM outlast.gateway_calls WHERE at < $1::timestamptz AND at >= $3::timestamptz
    ORDER BY at LIMIT $2::int FOR UPDATE SKIP LOCKED)
  RETURNING at)
SELECT count(*)::int AS deleted, max(at) AS last FROM d`;

/**
 * Settled (delivered or failed) webhook deliveries, oldest first, with their attempt
 * logs, as many whole deliveries as fit in $2 rows; when the oldest alone has more
 * attempts than that, $2 of its attempts (it goes in a later transaction).
 * Walks from where this pass got to (as PRUNABLE_RUNS).
 * $1 settled before timestamptz, $2 rows at most, $3 from timestamptz → rows deleted, last
 */
export const PRUNE_DELIVERIES = `
WITH cand AS (
  SELECT d.id, d.updated_at,
    1 + (SELECT count(*) FROM outlast.webhook_attempts a WHERE a.delivery_id = d.id) AS n
  FROM outlast.webhook_deliveries d
  WHERE d.status <> 'pending' AND d.updated_at < $1::timestamptz
    AND d.updated_at >= $3::timestamptz
  ORDER BY d.updated_at, d.id
  LIMIT $2::int
  FOR UPDATE OF d SKIP LOCKED
), pick AS (
  SELECT id FROM (
    SELECT id, sum(n) OVER (ORDER BY updated_at, id) AS total FROM cand) t
  WHERE total <= $2::int
), big AS (
  SELECT id FROM cand WHERE NOT EXISTS (SELECT 1 FROM pick) ORDER BY updated_at, id LIMIT 1
), at AS (
  DELETE FROM outlast.webhook_attempts WHERE delivery_id IN (SELECT id FROM pick)
    OR (delivery_id, attempt) IN (
      SELECT a.delivery_id, a.attempt FROM outlast.webhook_attempts a
      WHERE a.delivery_id IN (SELECT id FROM big) LIMIT $2::int)
  RETURNING 1
), dl AS (
  DELETE FROM outlast.webhook_deliveries WHERE id IN (SELECT id FROM pick) RETURNING updated_at
)
SELECT ((SELECT count(*) FROM at) + (SELECT count(*) FROM dl))::int AS deleted,
  (SELECT max(updated_at) FROM dl) AS last`;
