import { type Db, LOCK_NAMESPACE } from "./db.js";
import * as W from "./sql/workers.js";

/** A live worker as the registry holds it (GET /v1/workers). */
export interface WorkerRow {
  id: string;
  queues: string[];
  hostname: string;
  pid: number;
  /** Null for a worker registered before migration 010, until it registers again. */
  concurrency: number | null;
  slots_in_use: number | null;
  started_at: Date | string;
  heartbeat_at: Date | string;
  expires_at: Date | string;
}

/**
 * Typed access to the worker registry's SQL (src/store/sql/workers.ts): who is alive,
 * and giving a dead worker's runs back. Used by src/engine/liveness.ts.
 */
export class WorkerRegistry {
  constructor(readonly db: Db) {}

  async registerWorker(w: {
    id: string;
    queues: string[];
    hostname: string;
    pid: number;
    lockKey: number | null;
    ttlMs: number;
    concurrency: number;
    slotsInUse: number;
  }): Promise<void> {
    await this.db.query(W.REGISTER_WORKER, [
      w.id,
      w.queues,
      w.hostname,
      w.pid,
      w.lockKey,
      w.ttlMs,
      w.concurrency,
      w.slotsInUse,
    ]);
  }

  /** Renews the lease and records the slots in use, in one statement. */
  async heartbeat(id: string, ttlMs: number, slotsInUse: number): Promise<boolean> {
    return (await this.db.query(W.HEARTBEAT, [id, ttlMs, slotsInUse])).length > 0;
  }

  async listWorkers(): Promise<WorkerRow[]> {
    return this.db.query<WorkerRow>(W.LIST_WORKERS);
  }

  async deregisterWorker(id: string): Promise<void> {
    await this.db.query(W.DEREGISTER_WORKER, [id]);
  }

  /** Returns the ids of runs given back to the queue. */
  async reapDeadWorkers(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(W.REAP_DEAD_WORKERS, [
      LOCK_NAMESPACE,
      this.db.kind === "postgres",
    ]);
    return rows.map((r) => r.id);
  }

  async forgetOtherWorkers(ownId: string): Promise<void> {
    await this.db.query(W.FORGET_OTHER_WORKERS, [ownId]);
  }
}
