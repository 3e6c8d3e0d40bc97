/** SQL for signals sent to runs (ctx.waitForSignal). */

/** Lock the run a signal is for. $1 run id */
export const LOCK_RUN_FOR_SIGNAL = `SELECT status FROM outlast.runs WHERE id = $1 FOR UPDATE`;

/** $1 run id, $2 name, $3 payload jsonb */
export const INSERT_SIGNAL = `
INSERT INTO outlast.signals (run_id, name, payload) VALUES ($1, $2, $3::jsonb)
RETURNING id, created_at`;

/**
 * Wake a run for a signal: bump its wake counter, and make it ready now when it is parked
 * on a wait for this signal. $1 run id, $2 signal name
 */
export const WAKE_FOR_SIGNAL = `
WITH upd AS (
  UPDATE outlast.runs
  SET wakeups = wakeups + 1,
      available_at = CASE WHEN status = 'waiting' AND waiting_for -> 'signals' ? $2
                          THEN now() ELSE available_at END
  WHERE id = $1
  RETURNING queue, status, available_at
)
SELECT upd.status FROM upd
LEFT JOIN LATERAL (SELECT pg_notify('outlast_ready', upd.queue) WHERE upd.available_at <= now()) AS n
  ON true`;

/**
 * Consume the oldest pending signal of a name and journal it as the wait's result, in one
 * statement: a signal is never consumed without its journal entry, nor journaled twice.
 * Fenced by the lease token like every journal write.
 * $1 run id, $2 name, $3 seq, $4 lease token, $5 attempt
 */
export const CONSUME_SIGNAL = `
WITH lease AS (
  SELECT id FROM outlast.runs WHERE id = $1 AND lease_token = $4
), s AS (
  SELECT g.id, g.payload FROM outlast.signals g, lease
  WHERE g.run_id = $1 AND g.name = $2 AND g.consumed_seq IS NULL
  ORDER BY g.id LIMIT 1
  FOR UPDATE OF g SKIP LOCKED
), used AS (
  UPDATE outlast.signals g SET consumed_seq = $3 FROM s WHERE g.id = s.id RETURNING s.payload
), step AS (
  INSERT INTO outlast.steps (run_id, seq, name, kind, status, output, error, attempt,
    lease_token, started_at, finished_at)
  SELECT $1, $3, $2, 'signal', 'succeeded', used.payload, NULL, $5, $4, now(), now() FROM used
  RETURNING seq
)
SELECT used.payload, (SELECT count(*)::int FROM step) AS journaled FROM used`;
