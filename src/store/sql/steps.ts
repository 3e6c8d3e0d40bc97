/** SQL for the step journal, keyed by (run_id, seq). */

/** $1 run id */
export const LOAD_JOURNAL = `
SELECT seq, name, kind, status, output, error FROM outlast.steps WHERE run_id = $1 ORDER BY seq`;

/** $1 run id */
export const LIST_STEPS = `
SELECT run_id, seq, name, kind, status, output, error, attempt, started_at, finished_at
FROM outlast.steps WHERE run_id = $1 ORDER BY seq`;

/**
 * Journal finished steps (group commit: the steps of many runs in one statement).
 * A row is written only while its run's claim is current (fencing), and a retried write
 * of the same claim finds its own row (the no-op DO UPDATE returns it), while a row of
 * another claim is never overwritten. The result tells each writer whether its run was
 * asked to cancel. A step missing from the result lost its lease.
 * $1 jsonb: [{run_id, seq, name, kind, status, output_json, error, attempt, lease_token,
 *             started_at, finished_at}]
 */
export const JOURNAL_STEPS = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    run_id uuid, seq int, name text, kind text, status text, output_json text, error jsonb,
    attempt int, lease_token uuid, started_at timestamptz, finished_at timestamptz)
), ins AS (
  INSERT INTO outlast.steps AS s (run_id, seq, name, kind, status, output, error, attempt,
    lease_token, started_at, finished_at)
  SELECT x.run_id, x.seq, x.name, x.kind, x.status, x.output_json::jsonb, x.error, x.attempt,
    x.lease_token, x.started_at, x.finished_at
  FROM x JOIN outlast.runs r
    ON r.id = x.run_id AND r.lease_token = x.lease_token AND r.status = 'running'
  ON CONFLICT (run_id, seq) DO UPDATE SET lease_token = s.lease_token
    WHERE s.lease_token = EXCLUDED.lease_token
  RETURNING s.run_id, s.seq
)
SELECT ins.run_id, ins.seq, r.cancel_requested
FROM ins JOIN outlast.runs r ON r.id = ins.run_id`;
