/**
 * Bulk fixtures for retention tests and bench/retention.ts: finished runs with steps
 * (each step's insert trigger writes its event) made by generate_series in one statement.
 */
import type { Queryable } from "../../src/store/db.js";

export interface OldRuns {
  count: number;
  steps: number;
  /** Days ago the runs finished (and their events happened). */
  daysAgo: number;
  status?: "succeeded" | "failed" | "cancelled" | "running";
  agent?: string;
}

/** Inserts `count` runs and their steps and ages their events; returns nothing. */
export async function insertOldRuns(db: Queryable, o: OldRuns): Promise<void> {
  const status = o.status ?? "succeeded";
  const agent = o.agent ?? "old";
  await db.query(
    `INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts, created_at, started_at,
       finished_at, attempt, claims)
     SELECT 'default', gen_random_uuid(), $1, 'default', $2, 1,
       now() - $3::float8 * interval '1 day' - interval '1 minute',
       now() - $3::float8 * interval '1 day' - interval '1 minute',
       CASE WHEN $2 = 'running' THEN NULL
            ELSE now() - $3::float8 * interval '1 day' + (i % 1000) * interval '1 ms' END,
       1, 1
     FROM generate_series(1, $4::int) AS i`,
    [agent, status, o.daysAgo, o.count],
  );
  if (o.steps > 0) {
    await db.query(
      `INSERT INTO outlast.steps (run_id, seq, name, kind, status, output, attempt, lease_token,
         started_at, finished_at)
       SELECT r.id, s, 'step-' || s, 'step', 'succeeded', to_jsonb(s), 1, gen_random_uuid(),
         r.started_at, r.started_at
       FROM outlast.runs r, generate_series(1, $2::int) AS s
       WHERE r.agent = $1`,
      [agent, o.steps],
    );
  }
  await db.query(
    `UPDATE outlast.events e SET at = r.started_at FROM outlast.runs r
     WHERE e.run_id = r.id AND r.agent = $1`,
    [agent],
  );
}

/** Moves the webhook fan-out cursor past every event (what a deliverer's fan-out does). */
export async function fanOutAll(db: Queryable): Promise<void> {
  await db.query(
    `UPDATE outlast.webhook_cursor SET (txid, event_id) = (
       SELECT txid, id FROM outlast.events ORDER BY txid DESC, id DESC LIMIT 1)
     WHERE EXISTS (SELECT 1 FROM outlast.events)`,
  );
}
