/** SQL for the step journal, keyed by (run_id, seq). */

/** What replay reads: finished steps only (a `running` row was interrupted). $1 run id */
export const LOAD_JOURNAL = `
SELECT seq, name, kind, status, output, error FROM outlast.steps
WHERE run_id = $1 AND status <> 'running' ORDER BY seq`;

/** $1 run id */
export const LIST_STEPS = `
SELECT run_id, seq, name, kind, status, output, error, attempt, started_at, finished_at
FROM outlast.steps WHERE run_id = $1 ORDER BY seq`;

/**
 * Journal steps (group commit: the steps of many runs in one statement): a step that
 * started (status `running`) or one that ended (`succeeded` | `failed`; the row of its
 * start, if written, becomes final). Migration 006 lists the events each write makes.
 * A row is written only while its run's claim is current (fencing). On conflict:
 * - a `running` row is taken over by any write of the current claim (the same claim
 *   finishing it, or a new claim executing the interrupted step again);
 * - a final row is kept, except that a retried write of its own claim finds it (the
 *   no-op update returns it); another claim's final row is never overwritten.
 * The result tells each writer whether its run was asked to cancel. A step missing from
 * the result lost its lease.
 * Parallel arrays: $1 run ids, $2 seqs, $3 names, $4 kinds, $5 statuses, $6 output JSON,
 * $7 error JSON, $8 attempts, $9 lease tokens, $10 started_at, $11 finished_at (null when
 * running)
 */
export const JOURNAL_STEPS = `
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::int[], $9::uuid[], $10::timestamptz[], $11::timestamptz[])
    AS x(run_id, seq, name, kind, status, output_json, error_json, attempt, lease_token,
      started_at, finished_at)
), ins AS (
  INSERT INTO outlast.steps AS s (run_id, seq, name, kind, status, output, error, attempt,
    lease_token, started_at, finished_at)
  SELECT x.run_id, x.seq, x.name, x.kind, x.status, x.output_json::jsonb, x.error_json::jsonb,
    x.attempt, x.lease_token, x.started_at, x.finished_at
  FROM x JOIN outlast.runs r ON r.id = x.run_id AND r.lease_token = x.lease_token
  ON CONFLICT (run_id, seq) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
    status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
    attempt = EXCLUDED.attempt, lease_token = EXCLUDED.lease_token,
    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at
    WHERE s.status = 'running'
      OR (s.lease_token = EXCLUDED.lease_token AND EXCLUDED.status <> 'running')
  RETURNING s.run_id, s.seq
)
SELECT ins.run_id, ins.seq, r.cancel_requested
FROM ins JOIN outlast.runs r ON r.id = ins.run_id`;
