/**
 * SQL for worker liveness. A worker's lease covers all its runs: one heartbeat statement
 * per worker renews them all, however many runs it executes.
 */

/** $1 id, $2 queues text[], $3 hostname, $4 pid, $5 lock key|null, $6 ttl ms, $7 concurrency, $8 slots in use */
export const REGISTER_WORKER = `
INSERT INTO outlast.workers (id, queues, hostname, pid, lock_key, expires_at, concurrency, slots_in_use)
VALUES ($1, $2::text[], $3, $4, $5, now() + ($6::int * interval '1 millisecond'), $7, $8)
ON CONFLICT (id) DO UPDATE SET lock_key = EXCLUDED.lock_key, heartbeat_at = now(),
  expires_at = EXCLUDED.expires_at, concurrency = EXCLUDED.concurrency,
  slots_in_use = EXCLUDED.slots_in_use`;

/**
 * $1 id, $2 ttl ms, $3 slots in use. No row back: the worker was declared dead and must
 * re-register. The slots ride on the heartbeat, so showing them costs no statement.
 */
export const HEARTBEAT = `
UPDATE outlast.workers
SET heartbeat_at = now(), expires_at = now() + ($2::int * interval '1 millisecond'),
  slots_in_use = $3
WHERE id = $1
RETURNING id`;

/** Which of some queues a live worker serves (why a ready run may sit). $1 text[] queues */
export const SERVED_QUEUES = `
SELECT DISTINCT q AS queue FROM outlast.workers, unnest(queues) AS q
WHERE expires_at > now() AND q = ANY($1::text[])`;

/** Live workers (lease not expired), oldest first. No parameters. */
export const LIST_WORKERS = `
SELECT id, queues, hostname, pid, concurrency, slots_in_use, started_at, heartbeat_at,
  expires_at
FROM outlast.workers
WHERE expires_at > now()
ORDER BY started_at, id`;

/** $1 id */
export const DEREGISTER_WORKER = `DELETE FROM outlast.workers WHERE id = $1`;

/**
 * Reap: a worker is dead when its lease expired (hung, partitioned) or, on PostgreSQL,
 * when the session advisory lock it holds for its lifetime is gone (process died: the
 * server drops the lock within milliseconds). Its running runs go back to the queue at
 * once, without consuming an attempt; so do running runs whose owner has no row at all.
 * $1 lock namespace, $2 bool: check advisory locks (PostgreSQL only)
 */
export const REAP_DEAD_WORKERS = `
WITH dead AS (
  DELETE FROM outlast.workers w
  WHERE w.expires_at < now()
     OR ($2::bool AND w.lock_key IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM pg_locks l
          WHERE l.locktype = 'advisory' AND l.granted
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = $1::int::oid AND l.objid = w.lock_key::oid AND l.objsubid = 2))
  RETURNING w.id
), released AS (
  UPDATE outlast.runs r
  SET status = 'queued', available_at = now(), lease_owner = NULL, lease_token = NULL,
      updated_at = now()
  WHERE r.status = 'running'
    AND (r.lease_owner IN (SELECT id FROM dead)
         OR NOT EXISTS (SELECT 1 FROM outlast.workers w WHERE w.id = r.lease_owner))
  RETURNING r.id, r.queue
)
SELECT released.id, (SELECT count(*)::int FROM dead) AS dead_workers
FROM released, LATERAL (SELECT pg_notify('outlast_ready', released.queue)) AS n`;

/** PGlite only: one process owns the database, so every other worker row is stale. $1 own id */
export const FORGET_OTHER_WORKERS = `DELETE FROM outlast.workers WHERE id <> $1`;
