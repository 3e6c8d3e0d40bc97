/**
 * The retention pruner: every `intervalMs` a pass deletes what each target keeps no longer,
 * in transactions of at most 1,000 rows and 50 ms each (a target stops issuing statements
 * when the time is spent), pausing between them three times as long as each took (`duty`),
 * so the work in flight goes first.
 * The pass holds no lock between transactions; each takes a transaction-scoped advisory
 * lock, so with several worker processes one prunes at a time (the others' passes end).
 *
 * States: `idle` (between passes) → `pruning` (a pass) → `idle` …; `stopped` is final.
 */
import { type Db, LOCK_NAMESPACE } from "../store/db.js";
import { PRUNE_LOCK_TIMEOUT, TRY_PRUNE_LOCK } from "../store/sql/retention.js";
import { type Logger, silentLogger } from "../util/log.js";
import type { PruneResult, RetentionTarget } from "./target.js";
import {
  deliveriesTarget,
  EventsTarget,
  RunsTarget,
  threadsTarget,
  usageTarget,
} from "./targets.js";

/** Second key of the pruner's advisory lock ("RETN"). */
const PRUNE_LOCK_KEY = 0x5245544e;

export interface RetentionRule {
  target: RetentionTarget;
  /** Keep this long (ms); older goes. */
  keepMs: number;
}

export interface PrunerOptions {
  db: Db;
  rules: RetentionRule[];
  log?: Logger;
  /** Pause between passes. Default 60 s. */
  intervalMs?: number;
  /** Rows a transaction deletes at most. Default 1,000. */
  batchRows?: number;
  /** Time a transaction spends at most before it commits what it did. Default 50 ms. */
  batchMs?: number;
  /**
   * Share of a pass's time spent in transactions: after a transaction of t ms the pruner
   * waits t × (1 − duty) ÷ duty (at least `pauseMs`). Default 0.25. With 20 runs stepping
   * on 2 shared cores, a pruner in transactions 75% of the time (10 ms pauses) doubled
   * their step p50 (bench/retention.ts).
   */
  duty?: number;
  /** Pause between transactions at least. Default 10 ms. */
  pauseMs?: number;
  /** Called after each transaction commits (metrics, tests); the next one waits for it. */
  onBatch?: (target: string, result: PruneResult) => void | Promise<void>;
}

/** The `retention` section of the config. */
export interface RetentionConfig {
  runs: number | false;
  events: number | false;
  usage: number | false;
  deliveries: number | false;
  /** Idle threads (issue 22); absent or false: kept forever. */
  threads?: number | false;
  intervalMs: number;
}

/**
 * The built-in targets with their ages from the config, in the order a pass visits them:
 * deliveries first (an event with a delivery stays), runs last.
 */
export function retentionRules(c: RetentionConfig, extra: RetentionRule[] = []): RetentionRule[] {
  const rules: RetentionRule[] = [];
  const add = (keep: number | false, target: RetentionTarget) => {
    if (keep !== false) rules.push({ target, keepMs: keep });
  };
  add(c.deliveries, deliveriesTarget());
  add(c.events, new EventsTarget());
  add(c.usage, usageTarget());
  add(c.threads ?? false, threadsTarget());
  add(c.runs, new RunsTarget());
  return [...rules, ...extra];
}

export interface PassReport {
  /** Rows deleted by target name. */
  deleted: Record<string, number>;
  transactions: number;
  /** False when another process held the pruner's lock. */
  ran: boolean;
}

export class Pruner {
  private mode: "idle" | "pruning" | "stopped" = "idle";
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<PassReport> | undefined;
  private readonly log: Logger;
  private readonly batchRows: number;
  private readonly batchMs: number;
  private readonly pauseMs: number;
  private readonly duty: number;

  constructor(private readonly o: PrunerOptions) {
    this.log = (o.log ?? silentLogger).child({ component: "retention" });
    this.batchRows = o.batchRows ?? 1_000;
    this.batchMs = o.batchMs ?? 50;
    this.pauseMs = o.pauseMs ?? 10;
    this.duty = Math.min(1, Math.max(0.01, o.duty ?? 0.25));
  }

  /** Starts passes every intervalMs, the first one after `firstDelayMs`. */
  start(firstDelayMs = 5_000): void {
    if (this.mode === "stopped") throw new Error("pruner: start after stop");
    this.schedule(firstDelayMs);
  }

  /** Ends the pass in flight after its current transaction, and schedules no other. */
  async stop(): Promise<void> {
    this.mode = "stopped";
    if (this.timer) clearTimeout(this.timer);
    await this.pass?.catch(() => {});
  }

  /** One pass over every target now (what the timer runs; tests call it directly). */
  runPass(): Promise<PassReport> {
    if (this.mode === "stopped") throw new Error("pruner: stopped");
    if (this.pass) return this.pass;
    this.mode = "pruning";
    this.pass = this.prune().finally(() => {
      this.pass = undefined;
      if (this.mode === "pruning") this.mode = "idle";
    });
    return this.pass;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.runPass()
        .then((r) => {
          const total = Object.values(r.deleted).reduce((a, b) => a + b, 0);
          if (total > 0) this.log.info("retention: pruned", { ...r.deleted, tx: r.transactions });
        })
        .catch((err) => this.log.warn("retention: pass failed", { error: String(err) }))
        .finally(() => {
          if (this.mode !== "stopped") this.schedule(this.o.intervalMs ?? 60_000);
        });
    }, ms);
    this.timer.unref();
  }

  private async prune(): Promise<PassReport> {
    const report: PassReport = { deleted: {}, transactions: 0, ran: true };
    for (const { target, keepMs } of this.o.rules) {
      target.beginPass?.();
      report.deleted[target.name] = 0;
      const olderThan = new Date(Date.now() - keepMs);
      for (;;) {
        if (this.mode === "stopped") return report;
        const t0 = performance.now();
        const r = await this.o.db.transaction(async (tx) => {
          const deadline = performance.now() + this.batchMs;
          const [lock] = await tx.query<{ taken: boolean }>(TRY_PRUNE_LOCK, [
            LOCK_NAMESPACE,
            PRUNE_LOCK_KEY,
          ]);
          if (!lock?.taken) return undefined;
          await tx.query(PRUNE_LOCK_TIMEOUT);
          return target.pruneBatch(tx, { olderThan, limit: this.batchRows, deadline });
        });
        if (r === undefined) return { ...report, ran: false };
        report.transactions++;
        await this.o.onBatch?.(target.name, r);
        report.deleted[target.name] = (report.deleted[target.name] ?? 0) + r.deleted;
        if (!r.more) break;
        const spent = performance.now() - t0;
        const pause = Math.max(this.pauseMs, (spent * (1 - this.duty)) / this.duty);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    return report;
  }
}

/**
 * The pruner of a worker process, with the built-in targets and the config's ages;
 * `extra` rules for later kinds of data. Call `stop()` before closing the database.
 *
 * @example
 * const pruner = startPruner({ db, retention: config.retention, log });
 * // on shutdown
 * await pruner.stop();
 */
export function startPruner(o: {
  db: Db;
  retention: RetentionConfig;
  log?: Logger;
  extra?: RetentionRule[];
}): Pruner {
  const pruner = new Pruner({
    db: o.db,
    rules: retentionRules(o.retention, o.extra),
    log: o.log,
    intervalMs: o.retention.intervalMs,
  });
  pruner.start();
  return pruner;
}
