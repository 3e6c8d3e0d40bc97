import { mintRunToken } from "../auth/keys.js";
import { CancelledError, LeaseLostError, TerminalError } from "../errors.js";
import type { LlmClient } from "../llm/types.js";
import type { Admission } from "../quota/admission.js";
import type { Finish, Repo, StepWrite, StepWriteResult } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import { ThreadRepo } from "../store/threads.js";
import type { Tracing } from "../tracing/types.js";
import type { ClaimedRun, JournalEntry } from "../types/index.js";
import { Batcher } from "../util/batcher.js";
import type { Logger } from "../util/log.js";
import type { AnyAgent } from "./agent.js";
import { AttemptJournal } from "./attempt-journal.js";
import { startChildRun } from "./child-runs.js";
import { RunContextImpl } from "./context.js";
import { admissionOutcome, errorJson, type Outcome, ParkSignal, runAgent } from "./execute.js";
import type { EngineObserver } from "./observer.js";
import { claimedTrace, emitRunSpan, runAttributes } from "./run-trace.js";
import { threadAccess } from "./thread-context.js";
import { versionMismatch } from "./versions.js";
import { parkedFor, retryFor, throttledFor } from "./waiting-for.js";

/** A park as the store writes it. */
export type Park = Parameters<Repo["parkRuns"]>[0][number];

export interface ExecutorOptions {
  repo: Repo;
  agents: ReadonlyMap<string, AnyAgent>;
  llm?: LlmClient | undefined;
  /** Quota-aware admission: asked before a run's first step (see src/quota/admission.ts). */
  admission?: ((agent: AnyAgent, run: ClaimedRun) => Promise<Admission>) | undefined;
  /**
   * Writes a finished run. The pull worker's claims the finished runs' successors in the
   * same statement; a push dispatcher would only finish.
   */
  finish: (f: Finish) => Promise<boolean>;
  /** Aborted when the owner stops for good: its retried writes give up then. */
  stopped: AbortSignal;
  /** Told of starts, steps and finishes, with the timestamps already at hand. */
  observer?: EngineObserver | undefined;
  /** Spans of runs, attempts and steps (src/tracing); undefined records none. */
  tracing?: Tracing | undefined;
}

/**
 * Executes claimed runs, one attempt at a time: replays the journal, runs the agent with
 * its context, classifies how the attempt ended (src/engine/execute.ts) and writes what
 * that means for the run. It knows nothing of how runs are claimed: the pull worker
 * (src/engine/worker.ts) feeds it today, a push dispatcher can tomorrow.
 *
 * Journal writes and parks go through group commit (src/util/batcher.ts): the steps and
 * parks of every run this executor runs at once share statements.
 */
export class RunExecutor {
  private readonly journal: Batcher<StepWrite, StepWriteResult>;
  private readonly parker: Batcher<Park, boolean>;
  private readonly forever: { maxElapsedMs: number; signal: AbortSignal };
  private readonly threads: ThreadRepo;

  constructor(private readonly opts: ExecutorOptions) {
    const repo = opts.repo;
    this.threads = new ThreadRepo(repo.db);
    this.forever = { maxElapsedMs: Number.POSITIVE_INFINITY, signal: opts.stopped };
    this.journal = new Batcher((items) =>
      withDbRetry(() => repo.journalSteps(items), this.forever),
    );
    this.parker = new Batcher(async (items) => {
      const parked = await withDbRetry(() => repo.parkRuns(items), this.forever);
      return items.map((i) => parked.has(i.id));
    });
  }

  /**
   * Runs one attempt of a claimed run until the agent returns, throws or `abort` fires.
   * Throws only when the run could not be started (its journal did not load).
   */
  async attempt(run: ClaimedRun, abort: AbortController, log: Logger): Promise<Outcome> {
    const { repo, agents } = this.opts;
    const agent = agents.get(run.agent);
    if (!agent) return { kind: "failed", error: unknownAgent(run.agent) };
    if (run.cancelRequested) return { kind: "cancelled", error: new CancelledError() };
    const journal: ReadonlyMap<number, JournalEntry> =
      run.claims > 1
        ? await withDbRetry(() => repo.loadJournal(run.id), { maxElapsedMs: 60_000 })
        : new Map();
    const mismatch = versionMismatch(agent, run, journal.size);
    if (mismatch) return { kind: "failed", error: mismatch };
    if (journal.size === 0 && this.opts.admission) {
      const refused = admissionOutcome(await this.opts.admission(agent, run));
      if (refused) return refused;
    }
    const observer = this.opts.observer;
    if (observer && run.claims === 1 && run.createdAt && run.startedAt)
      observer.runStarted(run.agent, run.queue, secondsBetween(run.createdAt, run.startedAt));
    const tracing = this.opts.tracing;
    const trace = tracing ? claimedTrace(run) : undefined;
    const span =
      tracing && trace
        ? tracing.start(`attempt ${run.attempt}`, trace, {
            attributes: {
              ...runAttributes(run),
              "outlast.attempt": run.attempt,
              "outlast.claim": run.claims,
            },
          })
        : undefined;
    const steps = new AttemptJournal(this.journal, run, run.attempt, abort);
    const fence = { runId: run.id, leaseToken: run.leaseToken, attempt: run.attempt };
    const ctx = new RunContextImpl({
      runId: run.id,
      agent: run.agent,
      attempt: run.attempt,
      progressPublished: run.progressCalls,
      journal,
      priorWaits: run.priorWaitingFor,
      abort,
      log,
      llm: this.opts.llm,
      attribution: {
        // Its calls are charged to, and capped as, its project's (not "default").
        project: run.project,
        ...(run.tags?.feature ? { feature: run.tags.feature } : {}),
        ...(run.tags?.tenant ? { tenant: run.tags.tenant } : {}),
      },
      started: (step) => steps.started(step),
      record: observer
        ? (step) => {
            observer.stepFinished(
              run.agent,
              step.kind,
              secondsBetween(step.startedAt, step.finishedAt),
            );
            return steps.record(step);
          }
        : (step) => steps.record(step),
      setProgress: async (data, call) => {
        const cancel = await withDbRetry(() =>
          repo.setProgress(run.id, run.leaseToken, data, call),
        );
        if (cancel === undefined) abort.abort(new LeaseLostError());
        else if (cancel) abort.abort(new CancelledError());
      },
      consumeSignal: (name, seq) => withDbRetry(() => repo.consumeSignal({ ...fence, name, seq })),
      startChild: (childAgent, input, key) =>
        startChildRun(repo, agents, run, childAgent, input, key),
      park: (waits) => abort.abort(new ParkSignal(waits)),
      mintRunToken: () =>
        withDbRetry(() =>
          mintRunToken(repo.db, {
            runId: run.id,
            project: run.project,
            agent: run.agent,
            feature: run.tags?.feature,
            tenant: run.tags?.tenant,
          }),
        ),
      trace: tracing && span ? { tracing, parent: span.ids } : undefined,
      thread: threadAccess(this.threads, run),
    });
    try {
      const outcome = await runAgent(agent, run, ctx, abort);
      if (span) {
        span.set({ "outlast.outcome": outcome.kind });
        if (outcome.kind === "failed" || outcome.kind === "retry") span.fail(outcome.error);
      }
      return outcome;
    } finally {
      span?.end();
      await steps.flushUnfinished();
    }
  }

  /** Writes what an attempt's outcome means for the run. */
  async settle(run: ClaimedRun, outcome: Outcome, log: Logger): Promise<void> {
    const { repo } = this.opts;
    switch (outcome.kind) {
      case "succeeded":
      case "failed":
      case "cancelled": {
        const ok = await this.opts.finish({
          id: run.id,
          leaseToken: run.leaseToken,
          status: outcome.kind,
          outputJson: outcome.kind === "succeeded" ? outcome.outputJson : undefined,
          error: outcome.kind === "succeeded" ? undefined : errorJson(outcome.error),
        });
        if (ok && run.startedAt && this.opts.observer) {
          const seconds = secondsBetween(run.startedAt, new Date());
          this.opts.observer.runFinished(run.agent, run.queue, outcome.kind, seconds);
        }
        const trace = ok && this.opts.tracing ? claimedTrace(run) : undefined;
        if (trace && this.opts.tracing) {
          const error = outcome.kind === "succeeded" ? undefined : outcome.error;
          emitRunSpan(this.opts.tracing, trace, run, outcome.kind, run.attempt, error);
        }
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
            repo.requeueRun({
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
          this.forever,
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
        // A run this executor stops executing goes back at once. The write is fenced by the
        // lease token, so it is a no-op when a peer already reclaimed the run.
        await withDbRetry(
          () => repo.releaseRuns([{ id: run.id, leaseToken: run.leaseToken }]),
          this.forever,
        ).catch(() => {});
        return;
    }
  }

  /** Waits for the journal and park writes in flight. */
  async drain(): Promise<void> {
    await Promise.all([this.journal.drain(), this.parker.drain()]);
  }
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
    { code: "OUTLAST_UNKNOWN_AGENT" },
  );
}

/** Seconds from `a` to `b`, never negative (the database's clock and ours may differ a little). */
function secondsBetween(a: Date | string, b: Date | string): number {
  return Math.max(0, (new Date(b).getTime() - new Date(a).getTime()) / 1000);
}
