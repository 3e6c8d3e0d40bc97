/**
 * What the pruner (pruner.ts) prunes: a `RetentionTarget` per kind of data, registered in
 * a list. Later kinds of data (threads, blobs) plug in by adding a target; the pruner
 * gives each its own transactions, its row and time budgets and its age limit.
 */
import type { Queryable } from "../store/db.js";

export interface PruneBudget {
  /** Delete what is older than this. */
  olderThan: Date;
  /** Rows this transaction may delete, in every table together. */
  limit: number;
  /** performance.now() by which the batch stops issuing statements. */
  deadline: number;
}

export interface PruneResult {
  /** Rows deleted, in every table together (at most the budget's limit). */
  deleted: number;
  /** Whether another batch may find more (the pass goes on while so). */
  more: boolean;
}

export interface RetentionTarget {
  /** Its key in the `retention` config and in logs. */
  readonly name: string;
  /** A pass over the data begins (targets that walk with a cursor start again). */
  beginPass?(): void;
  /** One batch, inside the transaction the pruner opened. */
  pruneBatch(tx: Queryable, budget: PruneBudget): Promise<PruneResult>;
}
