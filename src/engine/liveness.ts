import { randomInt } from "node:crypto";
import { hostname } from "node:os";
import { type Db, LOCK_NAMESPACE, type SessionLock } from "../store/db.js";
import type { WorkerRegistry } from "../store/worker-registry.js";
import type { Logger } from "../util/log.js";

export interface LivenessOptions {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  reapIntervalMs: number;
  /** The worker's slots, recorded at registration. */
  concurrency: number;
  /** Slots taken now; each heartbeat records it (GET /v1/workers). */
  slotsInUse: () => number;
}

/**
 * A worker's claim on life. Three mechanisms, from fastest to slowest:
 *
 * 1. On PostgreSQL the worker holds a session advisory lock for its lifetime. When the
 *    process dies the server drops the lock within milliseconds (3–6 ms measured here from
 *    SIGKILL), and every peer's reaper — which runs every `reapIntervalMs` — sees the lock
 *    gone and gives the dead worker's runs back to the queue.
 * 2. A heartbeat (one UPDATE per worker, however many runs it holds) extends the worker's
 *    lease, and records the slots in use on the way (what `GET /v1/workers` shows). A hung or partitioned worker stops renewing and is reaped after `leaseTtlMs`
 *    (this also covers poolers in transaction mode, where session locks do not work).
 * 3. On PGlite one process owns the database, so at start-up every other worker is dead.
 *
 * States: starting → alive ⇄ (lock lost: re-lock and re-register) → stopped. When the
 * heartbeat finds the worker row gone (a peer reaped it) or cannot renew within the TTL,
 * `onLeaseLost` fires: the worker must stop executing every run it holds.
 */
export class Liveness {
  private lock: SessionLock | null = null;
  private lockKey: number | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastRenewal = Date.now();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly repo: WorkerRegistry,
    private readonly workerId: string,
    private readonly queues: string[],
    private readonly opts: LivenessOptions,
    private readonly log: Logger,
    private readonly onLeaseLost: (why: string) => void,
    private readonly onRunsReleased: () => void,
  ) {}

  async start(): Promise<void> {
    await this.takeLock();
    await this.register();
    if (this.db.kind === "pglite") await this.repo.forgetOtherWorkers(this.workerId);
    await this.reap();
    this.every(this.opts.heartbeatIntervalMs, () => this.heartbeat());
    this.every(this.opts.reapIntervalMs, () => this.reap());
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const tick = (): void => {
      if (this.stopped) return;
      // ±20% jitter keeps the workers of a fleet from reaping in lockstep.
      const t = setTimeout(() => void fn().finally(tick), ms * (0.8 + Math.random() * 0.4));
      t.unref();
      this.timers.push(t);
      if (this.timers.length > 16) this.timers.splice(0, this.timers.length - 4);
    };
    tick();
  }

  private async takeLock(): Promise<void> {
    if (this.db.kind !== "postgres") return;
    for (let i = 0; i < 5 && !this.lock; i++) {
      const key = randomInt(1, 2 ** 31 - 1);
      this.lock = await this.db.tryHoldSessionLock(LOCK_NAMESPACE, key);
      if (this.lock) this.lockKey = key;
    }
    if (!this.lock) throw new Error("could not take a worker advisory lock");
    const lock = this.lock;
    void lock.lost.then(() => {
      if (this.stopped || this.lock !== lock) return;
      this.log.warn("worker lost its advisory-lock session; re-locking");
      this.lock = null;
      void this.relock();
    });
  }

  private async relock(): Promise<void> {
    while (!this.stopped && !this.lock) {
      try {
        await this.takeLock();
        await this.register();
      } catch {
        this.lock = null;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async register(): Promise<void> {
    await this.repo.registerWorker({
      id: this.workerId,
      queues: this.queues,
      hostname: hostname(),
      pid: process.pid,
      lockKey: this.lockKey,
      ttlMs: this.opts.leaseTtlMs,
      concurrency: this.opts.concurrency,
      slotsInUse: this.opts.slotsInUse(),
    });
    this.lastRenewal = Date.now();
  }

  private async heartbeat(): Promise<void> {
    try {
      const alive = await this.repo.heartbeat(
        this.workerId,
        this.opts.leaseTtlMs,
        this.opts.slotsInUse(),
      );
      if (!alive) {
        this.onLeaseLost("a peer declared this worker dead");
        await this.register();
        return;
      }
      this.lastRenewal = Date.now();
    } catch (err) {
      if (Date.now() - this.lastRenewal > this.opts.leaseTtlMs) {
        this.onLeaseLost(`no heartbeat for ${this.opts.leaseTtlMs} ms (${(err as Error).message})`);
        this.lastRenewal = Date.now();
      }
    }
  }

  private async reap(): Promise<void> {
    try {
      const released = await this.repo.reapDeadWorkers();
      if (released.length > 0) {
        this.log.info("gave runs of dead workers back to the queue", { runs: released.length });
        this.onRunsReleased();
      }
    } catch {
      // The database is away; the next tick tries again.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await this.repo.deregisterWorker(this.workerId).catch(() => {});
    await this.lock?.release();
    this.lock = null;
  }
}
