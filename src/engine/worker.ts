import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CancelledError, LeaseLostError, TerminalError } from "../errors.js";
import type { LlmClient } from "../llm/types.js";
import type { Admission } from "../quota/admission.js";
import { Fairness, type FairnessConfig, TenantLoad, tenantOf } from "../quota/fairness.js";
import type { Db } from "../store/db.js";
import { type Finish, Repo, type StepWrite, type StepWriteResult } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import { WorkerRegistry } from "../store/worker-registry.js";
import type { Claimant, ClaimedRun, JournalEntry } from "../types/index.js";
import { Batcher } from "../util/batcher.js";
import { type Logger, silentLogger } from "../util/log.js";
import { Wakeup } from "../util/signal.js";
import type { AnyAgent } from "./agent.js";
import { AttemptJournal } from "./attempt-journal.js";
import { DEFAULT_RETRY } from "./backoff.js";
import { startChildRun } from "./child-runs.js";
import { RunContextImpl } from "./context.js";
import {
  admissionOutcome,
  errorJson,
  type Outcome,
  ParkSignal,
  runAgent,
  ShutdownError,
} from "./execute.js";
import { Liveness } from "./liveness.js";
import { versionMismatch } from "./versions.js";
import { parkedFor, retryFor, throttledFor } from "./waiting-for.js";

export interface WorkerOptions {
  db: Db;
  agents: readonly AnyAgent[];
  /** Queues this worker serves. Default: every queue of its agents. */
  queues?: readonly string[];
  /** Global caps per queue (all workers together). */
  queueLimits?: Readonly<Record<string, number>>;
  /** Runs this worker executes at once. Default 10. */
  concurrency?: number;
  llm?: LlmClient;
  log?: Logger;
  /** Fallback poll when no NOTIFY arrives (delayed runs, missed notifications). Default 1000. */
  pollIntervalMs?: number;
  /** Default 2000. */
  heartbeatIntervalMs?: number;
  /** A worker that has not renewed for this long is dead to its peers. Default 15000. */
  leaseTtlMs?: number;
  /** How often this worker looks for dead peers. Default 500. */
  reapIntervalMs?: number;
  id?: string;
  /** Quota-aware admission: asked before a run's first step (see src/quota/admission.ts). */
  admission?: (agent: AnyAgent, run: ClaimedRun) => Promise<Admission>;
  /** Weighted fairness between tenants in claims (src/quota/fairness.ts). Default: off. */
  fairness?: FairnessConfig;
}

type Park = Parameters<Repo["parkRuns"]>[0][number];

interface Active {
  run: ClaimedRun;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * A pull worker. It claims ready runs of its queues while it has free slots, executes
 * each (replaying its journal), and writes steps and results through group commit.
 *
 * States: created → running → draining (stop(): no new claims; in-flight runs get the
 * grace period) → stopped (what is left is given back to the queue for other workers).
 */
export class Worker {
  readonly id: string;
  /**
   * Who claims, with this worker's retry policies: a worker deployed with a new `retry`
   * applies it to the runs it claims, whatever their submitter knew.
   */
  private readonly claimant: Claimant;
  private readonly repo: Repo;
  private readonly agents: Map<string, AnyAgent>;
  private readonly queues: string[];
  private readonly concurrency: number;
  private readonly log: Logger;
  private readonly wake = new Wakeup();
  private readonly active = new Map<string, Active>();
  /**
   * Slots taken: runs whose agent is executing, plus slots reserved by a claim in flight.
   * A run gives its slot back when its agent returns, before its result is written, so
   * the write that finishes it can claim its successor in the same statement.
   */
  private busy = 0;
  /** Set when fairness is on; `load` then counts the runs holding slots, by tenant. */
  private readonly fairness: Fairness | undefined;
  private readonly load = new TenantLoad();
  private readonly journal: Batcher<StepWrite, StepWriteResult>;
  private readonly finisher: Batcher<Finish, boolean>;
  private readonly parker: Batcher<Park, boolean>;
  private readonly hardStop = new AbortController();
  private readonly liveness: Liveness;
  private readonly unlisten: (() => Promise<void>)[] = [];
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly opts: WorkerOptions) {
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.repo = new Repo(opts.db);
    this.agents = new Map(opts.agents.map((a) => [a.name, a]));
    this.claimant = {
      id: this.id,
      agents: opts.agents.map((a) => a.name),
      maxAttempts: opts.agents.map((a) => a.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts),
    };
    this.queues = [...new Set(opts.queues ?? opts.agents.map((a) => a.queue ?? "default"))];
    this.concurrency = opts.concurrency ?? 10;
    this.fairness = opts.fairness ? new Fairness(opts.fairness) : undefined;
    this.log = (opts.log ?? silentLogger).child({ worker: this.id });
    const forever = { maxElapsedMs: Number.POSITIVE_INFINITY, signal: this.hardStop.signal };
    this.journal = new Batcher((items) =>
      withDbRetry(() => this.repo.journalSteps(items), forever),
    );
    this.finisher = new Batcher(
      async (items) => {
        // Free slots go straight to new runs of uncapped queues, in the same statement:
        // trivial runs then cost one round trip per batch, not two (claim + finish).
        const queues = this.uncappedQueues;
        const want = this.stopping || queues.length === 0 ? 0 : this.reserve();
        let claimed: ClaimedRun[] = [];
        try {
          const res = await withDbRetry(
            () =>
              want > 0
                ? this.repo.finishAndClaim(
                    items,
                    queues,
                    want,
                    this.claimant,
                    this.fairClaim(queues),
                  )
                : this.repo.finishRuns(items).then((finished) => ({ finished, claimed: [] })),
            forever,
          );
          claimed = res.claimed;
          return items.map((i) => res.finished.has(i.id));
        } finally {
          this.busy -= want - claimed.length;
          for (const run of claimed) this.startRun(run);
          // Slots this flush could not fill (capped queues, an empty queue): the claim loop.
          if (claimed.length < want || queues.length < this.queues.length) this.wake.notify();
        }
      },
      // Two finish statements in flight on PostgreSQL (a pool, two cores): 2.8k → 3.3k
      // trivial runs/s here. PGlite has one connection, so a second only queues (1.4k).
      // At concurrency 10 a batch of trivial runs ends in one turn and goes in one flush
      // of 10 (a lock-step cycle of ~2.7–3 ms). Splitting it over both statements (maxBatch
      // 5, each claiming as many as it finishes) was measured worse, 2.4–2.7k vs 3.0–3.4k
      // runs/s, alternating: PostgreSQL spent more CPU on fewer runs (70–85 % → 93–109 % of
      // a core), most likely two backends contending for the same heap and index pages.
      { concurrency: opts.db.kind === "postgres" ? 2 : 1 },
    );
    this.parker = new Batcher(async (items) => {
      const parked = await withDbRetry(() => this.repo.parkRuns(items), forever);
      return items.map((i) => parked.has(i.id));
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
        concurrency: this.concurrency,
        slotsInUse: () => Math.min(this.concurrency, Math.max(0, this.busy)),
      },
      this.log,
      (why) => this.abortAll(new LeaseLostError(`worker lease lost: ${why}`)),
      () => this.wake.notify(),
    );
  }

  /** Reserves every free slot for a claim; returns how many. */
  private reserve(): number {
    const n = Math.max(0, this.concurrency - this.busy);
    this.busy += n;
    return n;
  }

  get activeRuns(): number {
    return this.active.size;
  }

  /** Slots taken (executing or reserved by a claim in flight); never above `concurrency`. */
  get busySlots(): number {
    return this.busy;
  }

  async start(): Promise<void> {
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
    this.loop = this.claimLoop();
    this.log.info("worker started", { queues: this.queues, concurrency: this.concurrency });
  }

  private async claimLoop(): Promise<void> {
    const poll = this.opts.pollIntervalMs ?? 1_000;
    while (!this.stopping) {
      const free = this.reserve();
      let claimed: ClaimedRun[] = [];
      if (free > 0) {
        try {
          claimed = await this.claim(free);
        } catch (err) {
          this.log.warn("claim failed; the database may be away", {
            error: (err as Error).message,
          });
        }
        this.busy -= free - claimed.length;
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

  private get uncappedQueues(): string[] {
    const limits = this.opts.queueLimits ?? {};
    return this.queues.filter((q) => limits[q] === undefined);
  }

  private async claim(free: number): Promise<ClaimedRun[]> {
    const limits = this.opts.queueLimits ?? {};
    const uncapped = this.uncappedQueues;
    const out: ClaimedRun[] = [];
    if (uncapped.length > 0) {
      out.push(...(await this.repo.claim(uncapped, free, this.claimant, this.fairClaim(uncapped))));
    }
    for (const q of this.queues) {
      const cap = limits[q];
      if (cap === undefined || out.length >= free) continue;
      out.push(
        ...(await this.repo.claimCapped(q, cap, free - out.length, this.claimant, this.fairness)),
      );
    }
    return out;
  }

  /** A fair claim's arguments for some queues (their tenants' runs on this worker); off: undefined. */
  private fairClaim(queues: readonly string[]) {
    return this.fairness?.claimArgs(this.load.running(queues));
  }

  private startRun(run: ClaimedRun): void {
    const abort = new AbortController();
    const entry: Active = { run, abort, done: Promise.resolve() };
    this.active.set(run.id, entry);
    if (this.fairness) this.load.add(run.queue, tenantOf(run.tags));
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
      outcome = await this.attempt(run, abort, log);
    } catch (err) {
      // Only infrastructure fails here (the journal could not be loaded): give the run back.
      log.warn("could not execute the run; giving it back", { error: String(err) });
      outcome = { kind: "release" };
    }
    if (!abort.signal.aborted) abort.abort(new ShutdownError());
    this.busy--;
    if (this.fairness) this.load.remove(run.queue, tenantOf(run.tags));
    // A finishing run's slot is refilled by the write that finishes it; other outcomes
    // leave it to the claim loop.
    const finishing =
      outcome.kind === "succeeded" || outcome.kind === "failed" || outcome.kind === "cancelled";
    if (!finishing) this.wake.notify();
    await this.settle(run, outcome, log);
    // Woken above before the park was written, the claim loop may have worked out its idle
    // wait without this run's wake-up time, and slept a whole poll interval past it.
    if (outcome.kind === "park") this.wake.notify();
  }

  private async attempt(run: ClaimedRun, abort: AbortController, log: Logger): Promise<Outcome> {
    const agent = this.agents.get(run.agent);
    if (!agent) return { kind: "failed", error: unknownAgent(run.agent) };
    if (run.cancelRequested) return { kind: "cancelled", error: new CancelledError() };
    const journal: ReadonlyMap<number, JournalEntry> =
      run.claims > 1
        ? await withDbRetry(() => this.repo.loadJournal(run.id), { maxElapsedMs: 60_000 })
        : new Map();
    const mismatch = versionMismatch(agent, run, journal.size);
    if (mismatch) return { kind: "failed", error: mismatch };
    if (journal.size === 0 && this.opts.admission) {
      const refused = admissionOutcome(await this.opts.admission(agent, run));
      if (refused) return refused;
    }
    const attemptNo = run.attempt;
    const steps = new AttemptJournal(this.journal, run, attemptNo, abort);
    const ctx = new RunContextImpl({
      runId: run.id,
      agent: run.agent,
      attempt: attemptNo,
      progressPublished: run.progressCalls,
      journal,
      priorWaits: run.priorWaitingFor,
      abort,
      log,
      llm: this.opts.llm,
      attribution: {
        ...(run.tags?.feature ? { feature: run.tags.feature } : {}),
        ...(run.tags?.tenant ? { tenant: run.tags.tenant } : {}),
      },
      started: (step) => steps.started(step),
      record: (step) => steps.record(step),
      setProgress: async (data, call) => {
        const cancel = await withDbRetry(() =>
          this.repo.setProgress(run.id, run.leaseToken, data, call),
        );
        if (cancel === undefined) abort.abort(new LeaseLostError());
        else if (cancel) abort.abort(new CancelledError());
      },
      consumeSignal: (name, seq) =>
        withDbRetry(() =>
          this.repo.consumeSignal({
            runId: run.id,
            name,
            seq,
            leaseToken: run.leaseToken,
            attempt: attemptNo,
          }),
        ),
      startChild: (childAgent, input, key) =>
        startChildRun(this.repo, this.agents, run, childAgent, input, key),
      park: (waits) => abort.abort(new ParkSignal(waits)),
    });
    try {
      return await runAgent(agent, run, ctx, abort);
    } finally {
      await steps.flushUnfinished();
    }
  }

  /** Writes what an attempt's outcome means for the run. */
  private async settle(run: ClaimedRun, outcome: Outcome, log: Logger): Promise<void> {
    const forever = { maxElapsedMs: Number.POSITIVE_INFINITY, signal: this.hardStop.signal };
    switch (outcome.kind) {
      case "succeeded":
      case "failed":
      case "cancelled": {
        const ok = await this.finisher.submit({
          id: run.id,
          leaseToken: run.leaseToken,
          status: outcome.kind,
          outputJson: outcome.kind === "succeeded" ? outcome.outputJson : undefined,
          error: outcome.kind === "succeeded" ? undefined : errorJson(outcome.error),
        });
        if (!ok) log.warn("run finished after its claim ended; the result was discarded");
        else if (outcome.kind === "failed")
          log.info("run failed", failureFields(run, outcome.error));
        return;
      }
      case "retry":
      case "throttled": {
        const error = errorJson(outcome.error);
        if (outcome.kind === "retry") {
          log.info("attempt failed; the run will retry", {
            ...failureFields(run, outcome.error),
            retryInMs: Math.round(outcome.delayMs),
          });
        }
        await withDbRetry(
          () =>
            this.repo.requeueRun({
              id: run.id,
              leaseToken: run.leaseToken,
              status: outcome.kind === "retry" ? "queued" : "throttled",
              delayMs: outcome.delayMs,
              error,
              newAttempt: outcome.kind === "retry",
              waitingFor:
                outcome.kind === "retry"
                  ? retryFor(run.attempt, error.message)
                  : throttledFor(outcome.limit, error.message),
            }),
          forever,
        );
        return;
      }
      case "park": {
        const timed = outcome.waits.flatMap((w) => (w.until ? [new Date(w.until).getTime()] : []));
        const until = timed.length > 0 ? new Date(Math.min(...timed)) : null;
        await this.parker.submit({
          id: run.id,
          leaseToken: run.leaseToken,
          until,
          wakeups: run.wakeups,
          waitingFor: parkedFor(outcome.waits, until?.toISOString() ?? null),
        });
        return;
      }
      case "release":
      case "abandon":
        // A run this worker stops executing goes back at once. The write is fenced by the
        // lease token, so it is a no-op when a peer already reclaimed the run.
        await withDbRetry(
          () => this.repo.releaseRuns([{ id: run.id, leaseToken: run.leaseToken }]),
          forever,
        ).catch(() => {});
        return;
    }
  }

  private abortAll(reason: Error): void {
    for (const a of this.active.values()) a.abort.abort(reason);
  }

  /**
   * Drains: stops claiming, lets in-flight runs finish within `graceMs`, then gives the
   * rest back to the queue so other workers resume them at once.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake.notify();
    await this.loop;
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.all([...this.active.values()].map((a) => a.done)),
        sleep(deadline - Date.now()),
      ]);
    }
    if (this.active.size > 0) {
      this.log.info("grace period over; releasing unfinished runs", { runs: this.active.size });
      this.abortAll(new ShutdownError());
      await Promise.race([Promise.all([...this.active.values()].map((a) => a.done)), sleep(5_000)]);
    }
    await Promise.race([
      Promise.all([this.journal.drain(), this.finisher.drain(), this.parker.drain()]),
      sleep(5_000),
    ]);
    this.hardStop.abort();
    for (const u of this.unlisten) await u().catch(() => {});
    await this.liveness.stop();
    this.log.info("worker stopped");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** What a log line about a failed attempt says: which attempt, and the error's code and message. */
function failureFields(run: ClaimedRun, error: unknown): Record<string, unknown> {
  const e = errorJson(error);
  return {
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    ...(e.code ? { code: e.code } : {}),
    error: e.message,
  };
}

function unknownAgent(name: string): Error {
  return new TerminalError(
    `this worker has no agent named "${name}"; deploy it with the worker's config`,
    {
      code: "OUTLAST_UNKNOWN_AGENT",
    },
  );
}
