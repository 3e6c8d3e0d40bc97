import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CancelledError, LeaseLostError } from "../errors.js";
import { type Finish, Repo } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import { WorkerRegistry } from "../store/worker-registry.js";
import type { ClaimedRun } from "../types/index.js";
import { Batcher } from "../util/batcher.js";
import { type Logger, silentLogger } from "../util/log.js";
import { Wakeup } from "../util/signal.js";
import { DEFAULT_RETRY } from "./backoff.js";
import { Claimer } from "./claimer.js";
import { type Outcome, ShutdownError } from "./execute.js";
import { RunExecutor } from "./executor.js";
import { Liveness } from "./liveness.js";
import { Slots } from "./slots.js";
import { advance, type WorkerMode } from "./worker-mode.js";
import type { WorkerOptions } from "./worker-options.js";

export type { WorkerOptions };

/**
 * A pull worker: claims ready runs of its queues while it has free slots and hands each to
 * its executor (src/engine/executor.ts), which replays, runs and settles it. The worker
 * owns what is about claiming: the claim loop, the slots, its liveness (heartbeat, lease,
 * reaping dead peers) and draining. Modes: src/engine/worker-mode.ts.
 */
export class Worker {
  readonly id: string;
  private readonly claimer: Claimer;
  private readonly repo: Repo;
  private readonly queues: string[];
  private readonly log: Logger;
  private readonly wake = new Wakeup();
  private readonly active = new Map<string, Active>();
  /**
   * A run gives its slot back when its agent returns, before its result is written, so
   * the write that finishes it can claim its successor in the same statement.
   */
  private readonly slots: Slots;
  private readonly executor: RunExecutor;
  private readonly finisher: Batcher<Finish, boolean>;
  private readonly hardStop = new AbortController();
  private readonly liveness: Liveness;
  private readonly unlisten: (() => Promise<void>)[] = [];
  private loop: Promise<void> | undefined;
  private mode: WorkerMode = "created";
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.repo = new Repo(opts.db);
    this.queues = [...new Set(opts.queues ?? opts.agents.map((a) => a.queue ?? "default"))];
    // Who claims, with this worker's retry policies: a worker deployed with a new `retry`
    // applies it to the runs it claims, whatever their submitter knew.
    const claimant = {
      id: this.id,
      agents: opts.agents.map((a) => a.name),
      maxAttempts: opts.agents.map((a) => a.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts),
    };
    const limits = opts.queueLimits ?? {};
    this.claimer = new Claimer(this.repo, claimant, this.queues, limits, opts.fairness);
    this.slots = new Slots(opts.concurrency ?? 10, (err) => {
      this.log.error("the worker stops: its slot count is wrong", { error: err.message });
      void this.stop();
    });
    this.log = (opts.log ?? silentLogger).child({ worker: this.id });
    this.finisher = this.finishAndClaimBatcher();
    this.executor = new RunExecutor({
      repo: this.repo,
      agents: new Map(opts.agents.map((a) => [a.name, a])),
      llm: opts.llm,
      admission: opts.admission,
      observer: opts.observer,
      tracing: opts.tracing,
      finish: (f) => this.finisher.submit(f),
      stopped: this.hardStop.signal,
    });
    this.liveness = new Liveness(
      opts.db,
      new WorkerRegistry(opts.db),
      this.id,
      this.queues,
      {
        heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 2_000,
        leaseTtlMs: opts.leaseTtlMs ?? 15_000,
        reapIntervalMs: opts.reapIntervalMs ?? 500,
        concurrency: this.slots.capacity,
        slotsInUse: () => this.slots.busy,
      },
      this.log,
      (why) => this.abortAll(new LeaseLostError(`worker lease lost: ${why}`)),
      () => this.wake.notify(),
    );
  }

  /**
   * Finishes runs in batches, and gives the slots they free straight to new runs of
   * uncapped queues in the same statement: trivial runs then cost one round trip per
   * batch, not two (claim + finish).
   */
  private finishAndClaimBatcher(): Batcher<Finish, boolean> {
    const forever = { maxElapsedMs: Number.POSITIVE_INFINITY, signal: this.hardStop.signal };
    return new Batcher(
      async (items) => {
        const uncapped = this.claimer.uncapped.length;
        const want = this.mode !== "running" || uncapped === 0 ? 0 : this.slots.reserveFree();
        let claimed: ClaimedRun[] = [];
        try {
          const res = await withDbRetry(() => this.claimer.finish(items, want), forever);
          claimed = res.claimed;
          return items.map((i) => res.finished.has(i.id));
        } finally {
          this.slots.release(want - claimed.length);
          for (const run of claimed) this.startRun(run);
          // Slots this flush could not fill (capped queues, an empty queue): the claim loop.
          if (claimed.length < want || uncapped < this.queues.length) this.wake.notify();
        }
      },
      // Two finish statements in flight on PostgreSQL (a pool, two cores): 2.8k → 3.3k
      // trivial runs/s here. PGlite has one connection, so a second only queues (1.4k).
      // At concurrency 10 a batch of trivial runs ends in one turn and goes in one flush
      // of 10 (a lock-step cycle of ~2.7–3 ms). Splitting it over both statements (maxBatch
      // 5, each claiming as many as it finishes) was measured worse, 2.4–2.7k vs 3.0–3.4k
      // runs/s, alternating: PostgreSQL spent more CPU on fewer runs (70–85 % → 93–109 % of
      // a core), most likely two backends contending for the same heap and index pages.
      { concurrency: this.opts.db.kind === "postgres" ? 2 : 1 },
    );
  }

  get activeRuns(): number {
    return this.active.size;
  }

  /** Slots taken (executing or reserved by a claim in flight); never above `concurrency`. */
  get busySlots(): number {
    return this.slots.busy;
  }

  async start(): Promise<void> {
    this.mode = advance(this.mode, "running");
    this.starting = this.listenAndLive();
    await this.starting;
    if (this.mode !== "running") return; // stopped while starting
    this.loop = this.claimLoop();
    this.log.info("worker started", { queues: this.queues, concurrency: this.slots.capacity });
  }

  private async listenAndLive(): Promise<void> {
    const queues = new Set(this.queues);
    this.unlisten.push(
      await this.opts.db.listen(
        "outlast_ready",
        (queue) => {
          if (queues.has(queue)) this.wake.notify();
        },
        () => this.wake.notify(),
      ),
      await this.opts.db.listen("outlast_cancel", (runId) => {
        this.active.get(runId)?.abort.abort(new CancelledError());
      }),
    );
    await this.liveness.start();
  }

  private async claimLoop(): Promise<void> {
    const poll = this.opts.pollIntervalMs ?? 1_000;
    while (this.mode === "running") {
      const free = this.slots.reserveFree();
      let claimed: ClaimedRun[] = [];
      if (free > 0) {
        try {
          claimed = await this.claimer.claim(free);
        } catch (err) {
          this.log.warn("claim failed; the database may be away", {
            error: (err as Error).message,
          });
        }
        this.slots.release(free - claimed.length);
        for (const run of claimed) this.startRun(run);
      }
      // A full batch suggests more are ready: claim again as soon as slots allow.
      if (claimed.length > 0 && claimed.length === free) continue;
      // Idle: sleep until the next NOTIFY, the next delayed or parked run falls due, or
      // the poll interval (the fallback for missed notifications), whichever comes first.
      await this.wake.wait(free > 0 ? await this.idleWaitMs(poll) : poll);
    }
  }

  private async idleWaitMs(poll: number): Promise<number> {
    try {
      const ms = await this.repo.msUntilNextDue(this.queues);
      return ms === null ? poll : Math.max(1, Math.min(poll, ms + 2));
    } catch {
      return poll;
    }
  }

  private startRun(run: ClaimedRun): void {
    const abort = new AbortController();
    const entry: Active = { run, abort, done: Promise.resolve() };
    this.active.set(run.id, entry);
    this.claimer.holding(run, true);
    entry.done = this.execute(run, abort)
      .catch((err) => this.log.error("run handling failed", { run: run.id, error: String(err) }))
      .finally(() => {
        this.active.delete(run.id);
      });
  }

  private async execute(run: ClaimedRun, abort: AbortController): Promise<void> {
    const log = this.log.child({ run: run.id, agent: run.agent });
    let outcome: Outcome;
    try {
      outcome = await this.executor.attempt(run, abort, log);
    } catch (err) {
      // Only infrastructure fails here (the journal could not be loaded): give the run back.
      log.warn("could not execute the run; giving it back", { error: String(err) });
      outcome = { kind: "release" };
    }
    if (!abort.signal.aborted) abort.abort(new ShutdownError());
    this.slots.release();
    this.claimer.holding(run, false);
    // A finishing run's slot is refilled by the write that finishes it; other outcomes
    // leave it to the claim loop.
    const finishing =
      outcome.kind === "succeeded" || outcome.kind === "failed" || outcome.kind === "cancelled";
    if (!finishing) this.wake.notify();
    await this.executor.settle(run, outcome, log);
    // Woken above before the park or requeue was written, the claim loop may have worked
    // out its idle wait without this run's wake-up time, and slept a whole poll interval
    // past it (seen for a 50 ms throttle on a loaded machine, as for a park before).
    if (!finishing) this.wake.notify();
  }

  private abortAll(reason: Error): void {
    for (const a of this.active.values()) a.abort.abort(reason);
  }

  /**
   * Drains: stops claiming, lets in-flight runs finish within `graceMs`, then gives the
   * rest back to the queue so other workers resume them at once. Every call returns the
   * same drain; before start it does nothing.
   */
  stop(graceMs = 10_000): Promise<void> {
    if (this.mode === "created") return Promise.resolve();
    this.stopping ??= this.drain(graceMs);
    return this.stopping;
  }

  private async drain(graceMs: number): Promise<void> {
    this.mode = advance(this.mode, "draining");
    this.wake.notify();
    // A stop during start: what start sets up is there before it is taken down.
    await this.starting?.catch(() => {});
    await this.loop?.catch((err) => this.log.error("claim loop failed", { error: String(err) }));
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await Promise.race([this.allDone(), sleep(deadline - Date.now())]);
    }
    if (this.active.size > 0) {
      this.log.info("grace period over; releasing unfinished runs", { runs: this.active.size });
      this.abortAll(new ShutdownError());
      await Promise.race([this.allDone(), sleep(5_000)]);
    }
    await Promise.race([Promise.all([this.executor.drain(), this.finisher.drain()]), sleep(5_000)]);
    this.hardStop.abort();
    for (const u of this.unlisten) await u().catch(() => {});
    await this.liveness.stop();
    this.mode = advance(this.mode, "stopped");
    this.log.info("worker stopped");
  }

  private allDone(): Promise<unknown> {
    return Promise.all([...this.active.values()].map((a) => a.done));
  }
}

interface Active {
  run: ClaimedRun;
  abort: AbortController;
  done: Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
