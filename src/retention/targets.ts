/**
 * The built-in retention targets: finished runs, events, raw usage and settled webhook
 * deliveries (SQL in src/store/sql/retention.ts).
 */
import type { Queryable } from "../store/db.js";
import * as R from "../store/sql/retention.js";
import * as T from "../store/sql/threads.js";
import type { PruneBudget, PruneResult, RetentionTarget } from "./target.js";

/** Runs picked per batch to begin with; grows while batches come out under budget. */
const FIRST_RUN_CANDIDATES = 50;
/** Fewest runs picked per batch. */
const MIN_RUN_CANDIDATES = 10;
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
  /** (finished_at, id) of the last run this pass deleted. */
  private after: [string, string] = [BEGINNING, NIL_UUID];

  beginPass(): void {
    this.after = [BEGINNING, NIL_UUID];
  }

  async pruneBatch(tx: Queryable, b: PruneBudget): Promise<PruneResult> {
    const t0 = performance.now();
    const rows = await tx.query<{
      id: string;
      finished_at: Date | string;
      children: string | number;
    }>(R.PRUNABLE_RUNS, [
      b.olderThan.toISOString(),
      Math.min(this.candidates, b.limit),
      ...this.after,
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
    let deleted = 0;
    let done = 0;
    const perStatement = Math.min(RUNS_PER_STATEMENT, Math.max(1, picked.length >> 1));
    while (done < picked.length) {
      if (done > 0 && performance.now() >= b.deadline) break;
      const ids = picked.slice(done, done + perStatement);
      const [row] = await tx.query<{ deleted: number }>(R.DELETE_RUNS, [ids]);
      deleted += row?.deleted ?? 0;
      done += ids.length;
    }
    const last = rows[done - 1];
    if (last) this.after = [iso(last.finished_at), last.id];
    this.adapt(performance.now() - t0, b.deadline - t0, done, rows.length, b.limit);
    return { deleted, more: true };
  }

  /**
   * Candidates for the next batch: a quarter fewer when this one overran its time (half
   * when twice over), twice as many when all fitted in its time; never more than fit the
   * rows, never under MIN_RUN_CANDIDATES (a batch's fixed cost would dominate).
   */
  private adapt(spent: number, budgetMs: number, done: number, seen: number, limit: number): void {
    let next = Math.max(done, 1);
    if (spent > 2 * budgetMs) next = Math.floor(done / 2);
    else if (spent > budgetMs) next = done - Math.ceil(done / 4);
    else if (done === seen) next = this.candidates * 2;
    this.candidates = Math.max(MIN_RUN_CANDIDATES, Math.min(limit, next));
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

/**
 * A target that is one bounded DELETE statement walking one column from where the pass
 * got to ($1 older than, $2 rows, $3 from → deleted, last).
 */
class StatementTarget implements RetentionTarget {
  private from = BEGINNING;

  constructor(
    readonly name: string,
    private readonly sql: string,
  ) {}

  beginPass(): void {
    this.from = BEGINNING;
  }

  async pruneBatch(tx: Queryable, b: PruneBudget): Promise<PruneResult> {
    const [row] = await tx.query<{ deleted: number; last: Date | string | null }>(this.sql, [
      b.olderThan.toISOString(),
      b.limit,
      this.from,
    ]);
    if (row?.last) this.from = iso(row.last);
    const deleted = row?.deleted ?? 0;
    return { deleted, more: deleted > 0 };
  }
}

const BEGINNING = "-infinity";
const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const iso = (t: Date | string): string => (t instanceof Date ? t.toISOString() : t);

/** Raw gateway call rows; usage rollups stay. */
export const usageTarget = (): RetentionTarget => new StatementTarget("usage", R.PRUNE_USAGE);

/** Delivered and failed webhook deliveries with their attempt logs. */
export const deliveriesTarget = (): RetentionTarget =>
  new StatementTarget("deliveries", R.PRUNE_DELIVERIES);

/** Idle threads not written to for the age given, whole (issue 22): off unless configured. */
export const threadsTarget = (): RetentionTarget => new StatementTarget("threads", T.PRUNE_THREADS);
