/**
 * The built-in retention targets: finished runs, events, raw usage and settled webhook
 * deliveries (SQL in src/store/sql/retention.ts).
 */
import type { Queryable } from "../store/db.js";
import * as R from "../store/sql/retention.js";
import type { PruneBudget, PruneResult, RetentionTarget } from "./target.js";

/** Runs picked per batch to begin with; grows while batches come out under budget. */
const FIRST_RUN_CANDIDATES = 50;
/** Runs deleted per statement, so a batch can stop between statements when its time is up. */
const RUNS_PER_STATEMENT = 50;

/**
 * Finished runs, by finish time, with their steps, events, signals and deliveries. Only
 * whole runs within the row budget go in one transaction; a run bigger than the budget
 * loses its parts over several, and its row last.
 */
export class RunsTarget implements RetentionTarget {
  readonly name = "runs";
  private candidates = FIRST_RUN_CANDIDATES;

  async pruneBatch(tx: Queryable, b: PruneBudget): Promise<PruneResult> {
    const rows = await tx.query<{ id: string; children: string | number }>(R.PRUNABLE_RUNS, [
      b.olderThan.toISOString(),
      Math.min(this.candidates, b.limit),
    ]);
    if (rows.length === 0) return { deleted: 0, more: false };
    const picked: string[] = [];
    let budget = b.limit;
    for (const r of rows) {
      const n = Number(r.children) + 1;
      if (n > budget) break;
      picked.push(r.id);
      budget -= n;
    }
    const first = rows[0];
    if (picked.length === 0 && first) return this.pruneParts(tx, first.id, b);
    // Next time, as many candidates as fitted (twice that when all fitted and time remains).
    const fast = performance.now() < b.deadline;
    this.candidates = Math.max(
      1,
      Math.min(b.limit, picked.length === rows.length && fast ? rows.length * 2 : picked.length),
    );
    let deleted = 0;
    for (let i = 0; i < picked.length; i += RUNS_PER_STATEMENT) {
      if (i > 0 && performance.now() >= b.deadline) break;
      const [row] = await tx.query<{ deleted: number }>(R.DELETE_RUNS, [
        picked.slice(i, i + RUNS_PER_STATEMENT),
      ]);
      deleted += row?.deleted ?? 0;
    }
    return { deleted, more: true };
  }

  /** Parts of one run too big for a transaction, as many as the budget allows. */
  private async pruneParts(tx: Queryable, id: string, b: PruneBudget): Promise<PruneResult> {
    let left = b.limit;
    for (const sql of R.DELETE_RUN_PARTS) {
      if (left <= 0 || performance.now() >= b.deadline) break;
      const [row] = await tx.query<{ deleted: number }>(sql, [id, left]);
      left -= row?.deleted ?? 0;
    }
    return { deleted: b.limit - left, more: true };
  }
}

/** Events of kept runs, by age, walking events_at_idx from a position kept per pass. */
export class EventsTarget implements RetentionTarget {
  readonly name = "events";
  private after: { at: string; id: string } = { at: "-infinity", id: "0" };

  beginPass(): void {
    this.after = { at: "-infinity", id: "0" };
  }

  async pruneBatch(tx: Queryable, b: PruneBudget): Promise<PruneResult> {
    const [row] = await tx.query<{
      seen: number;
      deleted: number;
      last_at: Date | string | null;
      last_id: string | null;
    }>(R.PRUNE_EVENTS, [b.olderThan.toISOString(), b.limit, this.after.at, this.after.id]);
    if (!row || row.last_at === null || row.last_id === null) return { deleted: 0, more: false };
    const at = row.last_at instanceof Date ? row.last_at.toISOString() : row.last_at;
    this.after = { at, id: row.last_id };
    return { deleted: row.deleted, more: row.seen >= b.limit };
  }
}

/** A target that is one bounded DELETE statement ($1 older than, $2 rows). */
class StatementTarget implements RetentionTarget {
  constructor(
    readonly name: string,
    private readonly sql: string,
  ) {}

  async pruneBatch(tx: Queryable, b: PruneBudget): Promise<PruneResult> {
    const [row] = await tx.query<{ deleted: number }>(this.sql, [
      b.olderThan.toISOString(),
      b.limit,
    ]);
    const deleted = row?.deleted ?? 0;
    return { deleted, more: deleted > 0 };
  }
}

/** Raw gateway call rows; usage rollups stay. */
export const usageTarget = (): RetentionTarget => new StatementTarget("usage", R.PRUNE_USAGE);

/** Delivered and failed webhook deliveries with their attempt logs. */
export const deliveriesTarget = (): RetentionTarget =>
  new StatementTarget("deliveries", R.PRUNE_DELIVERIES);
