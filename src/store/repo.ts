import type {
  Claimant,
  ClaimedRun,
  FairClaim,
  FairClaimSource,
  JournalEntry,
  NewRun,
  RunRow,
  SerializedError,
  StartedStep,
  StepRecord,
  WaitingFor,
} from "../types/index.js";
import { type Db, LOCK_NAMESPACE } from "./db.js";
import * as R from "./sql/runs.js";
import * as G from "./sql/signals.js";
import * as S from "./sql/steps.js";
import * as W from "./sql/workers.js";

export interface Finish {
  id: string;
  leaseToken: string;
  status: "succeeded" | "failed" | "cancelled";
  outputJson: string | undefined;
  error: SerializedError | undefined;
}

/** A journal write: a step that started (status `running`) or one that ended. */
export type StepWrite = (StepRecord | (StartedStep & { status: "running" })) & {
  runId: string;
  leaseToken: string;
  attempt: number;
};

export interface StepWriteResult {
  written: boolean;
  cancelRequested: boolean;
}

/** A finish batch as the five parallel arrays FINISH_RUNS takes. */
function finishArrays(items: Finish[]): unknown[] {
  return [
    items.map((f) => f.id),
    items.map((f) => f.leaseToken),
    items.map((f) => f.status),
    items.map((f) => f.outputJson ?? null),
    items.map((f) => (f.error ? JSON.stringify(f.error) : null)),
  ];
}

/** A fair claim's arguments in the order CLAIM_RUNS_FAIR takes them after the worker id. */
function fairArgs(f: FairClaim): unknown[] {
  return [f.tenants, f.weights, f.running, f.defaultWeight];
}

/** Typed access to the SQL in ./sql: the only code that sends statements for runs. */
export class Repo {
  constructor(readonly db: Db) {}

  /** Inserts runs; returns the inserted rows (a duplicate idempotency key inserts nothing). */
  insertRuns(runs: NewRun[]): Promise<RunRow[]> {
    const rows = runs.map((r) => ({
      id: r.id,
      project: r.project,
      agent: r.agent,
      queue: r.queue,
      input_json: JSON.stringify(r.input ?? null),
      thread_id: r.threadId ?? null,
      priority: r.priority ?? 0,
      concurrency_key: r.concurrencyKey ?? null,
      tags: r.tags ?? {},
      idempotency_key: r.idempotencyKey ?? null,
      max_attempts: r.maxAttempts,
      available_at: r.availableAt?.toISOString() ?? null,
      parent_run_id: r.parentRunId ?? null,
      agent_version: r.agentVersion ?? null,
      ...(r.trace
        ? {
            trace_id: r.trace.traceId,
            span_id: r.trace.spanId,
            parent_span_id: r.trace.parentSpanId,
          }
        : {}),
    }));
    return this.db.query<RunRow>(R.INSERT_RUNS, [JSON.stringify(rows)]);
  }

  async getRunByIdempotencyKey(project: string, key: string): Promise<RunRow | undefined> {
    return (await this.db.query<RunRow>(R.GET_RUN_BY_IDEMPOTENCY_KEY, [project, key]))[0];
  }

  /** A run by id whatever its project: for the engine, never for a caller's request. */
  async getRun(id: string): Promise<RunRow | undefined> {
    return (await this.db.query<RunRow>(R.GET_RUN, [id]))[0];
  }

  /** A run by id as `project` sees it: undefined when it belongs to another project. */
  async getProjectRun(id: string, project: string): Promise<RunRow | undefined> {
    return (await this.db.query<RunRow>(R.GET_PROJECT_RUN, [id, project]))[0];
  }

  getStatuses(ids: string[]): Promise<{ id: string; status: string }[]> {
    return this.db.query(R.GET_RUN_STATUSES, [ids]);
  }

  listRuns(f: {
    project: string;
    status?: string | undefined;
    agent?: string | undefined;
    threadId?: string | undefined;
    before?: string | undefined;
    limit: number;
  }): Promise<RunRow[]> {
    return this.db.query<RunRow>(R.LIST_RUNS, [
      f.status ?? null,
      f.agent ?? null,
      f.threadId ?? null,
      f.before ?? null,
      f.limit,
      f.project,
    ]);
  }

  /**
   * Leases the best ready runs of some queues. With `fair`, tenants' runs interleave by
   * weight (src/quota/fairness.ts); without it, the same statement as before fairness.
   */
  claim(
    queues: string[],
    limit: number,
    worker: Claimant,
    fair?: FairClaim,
  ): Promise<ClaimedRun[]> {
    const policy = [worker.agents, worker.maxAttempts];
    return fair
      ? this.db.query<ClaimedRun>(R.CLAIM_RUNS_FAIR, [
          queues,
          limit,
          worker.id,
          ...fairArgs(fair),
          ...policy,
        ])
      : this.db.query<ClaimedRun>(R.CLAIM_RUNS, [queues, limit, worker.id, ...policy]);
  }

  /**
   * Claims from a queue with a global concurrency cap, serialised per queue. With
   * `fairness`, each tenant's running runs are counted over every worker (under the lock
   * the cap already takes), so the cap is shared fairly across the whole fleet.
   */
  claimCapped(
    queue: string,
    cap: number,
    limit: number,
    worker: Claimant,
    fairness?: FairClaimSource,
  ): Promise<ClaimedRun[]> {
    return this.db.transaction(async (tx) => {
      await tx.query(R.LOCK_QUEUE, [LOCK_NAMESPACE, `queue:${queue}`]);
      if (fairness) {
        const rows = await tx.query<{ tenant: string; n: number }>(
          R.COUNT_RUNNING_IN_QUEUE_BY_TENANT,
          [queue],
        );
        const n = Math.min(limit, cap - rows.reduce((sum, r) => sum + r.n, 0));
        if (n <= 0) return [];
        const fair = fairness.claimArgs(new Map(rows.map((r) => [r.tenant, r.n])));
        return tx.query<ClaimedRun>(R.CLAIM_RUNS_FAIR, [
          [queue],
          n,
          worker.id,
          ...fairArgs(fair),
          worker.agents,
          worker.maxAttempts,
        ]);
      }
      const running = (await tx.query<{ n: number }>(R.COUNT_RUNNING_IN_QUEUE, [queue]))[0]?.n ?? 0;
      const n = Math.min(limit, cap - running);
      if (n <= 0) return [];
      return tx.query<ClaimedRun>(R.CLAIM_RUNS, [
        [queue],
        n,
        worker.id,
        worker.agents,
        worker.maxAttempts,
      ]);
    });
  }

  /** Returns the ids actually finished (a run whose claim is no longer current is skipped). */
  async finishRuns(items: Finish[]): Promise<Set<string>> {
    const done = new Set<string>();
    // One NOTIFY carries a batch's ids and payloads are limited to 8000 bytes: 150 uuids fit.
    for (let i = 0; i < items.length; i += 150) {
      const rows = await this.db.query<{ id: string }>(
        R.FINISH_RUNS,
        finishArrays(items.slice(i, i + 150)),
      );
      for (const r of rows) done.add(r.id);
    }
    return done;
  }

  /**
   * Finishes up to 150 runs and claims up to `claimLimit` new ones in one statement.
   * Larger finish batches fall back to finishRuns for the rest.
   */
  async finishAndClaim(
    items: Finish[],
    queues: string[],
    claimLimit: number,
    worker: Claimant,
    fair?: FairClaim,
  ): Promise<{ finished: Set<string>; claimed: ClaimedRun[] }> {
    const head = items.slice(0, 150);
    const claim = [queues, claimLimit, worker.id];
    const policy = [worker.agents, worker.maxAttempts];
    const rows = await this.db.query<{ finished: string[]; claimed: ClaimedRun[] }>(
      fair ? R.FINISH_AND_CLAIM_FAIR : R.FINISH_AND_CLAIM,
      fair
        ? [...finishArrays(head), ...claim, ...fairArgs(fair), ...policy]
        : [...finishArrays(head), ...claim, ...policy],
    );
    const finished = new Set(rows[0]?.finished ?? []);
    if (items.length > head.length)
      for (const id of await this.finishRuns(items.slice(150))) finished.add(id);
    return { finished, claimed: rows[0]?.claimed ?? [] };
  }

  async requeueRun(a: {
    id: string;
    leaseToken: string;
    status: "queued" | "throttled";
    delayMs: number;
    error: SerializedError | null;
    /** A retry: the next claim begins a new attempt. */
    newAttempt: boolean;
    /** Why it is held; the store adds `until` and `eta`. */
    waitingFor: Omit<WaitingFor, "until" | "eta">;
  }): Promise<boolean> {
    const rows = await this.db.query(R.REQUEUE_RUN, [
      a.id,
      a.leaseToken,
      a.status,
      Math.max(0, Math.round(a.delayMs)),
      a.error ? JSON.stringify(a.error) : null,
      a.newAttempt,
      JSON.stringify(a.waitingFor),
    ]);
    return rows.length > 0;
  }

  async releaseRuns(runs: { id: string; leaseToken: string }[]): Promise<number> {
    if (runs.length === 0) return 0;
    const rows = await this.db.query(R.RELEASE_RUNS, [
      runs.map((r) => r.id),
      runs.map((r) => r.leaseToken),
    ]);
    return rows.length;
  }

  /** Parks a batch of runs; returns the ids parked (a run whose claim ended is skipped). */
  async parkRuns(
    items: {
      id: string;
      leaseToken: string;
      until: Date | null;
      waitingFor: WaitingFor;
      wakeups: number;
    }[],
  ): Promise<Set<string>> {
    const rows = await this.db.query<{ id: string }>(R.PARK_RUNS, [
      items.map((p) => p.id),
      items.map((p) => p.leaseToken),
      items.map((p) => p.until?.toISOString() ?? null),
      items.map((p) => JSON.stringify(p.waitingFor)),
      items.map((p) => p.wakeups),
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** The queues of `queues` that at least one live worker serves. */
  async servedQueues(queues: string[]): Promise<Set<string>> {
    const rows = await this.db.query<{ queue: string }>(W.SERVED_QUEUES, [queues]);
    return new Set(rows.map((r) => r.queue));
  }

  /** Ms until the next delayed or parked run is due, or null when none is. */
  async msUntilNextDue(queues: string[]): Promise<number | null> {
    return (await this.db.query<{ ms: number | null }>(R.NEXT_DUE, [queues]))[0]?.ms ?? null;
  }

  async resumeRun(id: string): Promise<(RunRow & { dropped_steps: number }) | undefined> {
    return (await this.db.query<RunRow & { dropped_steps: number }>(R.RESUME_RUN, [id]))[0];
  }

  childStates(
    ids: string[],
  ): Promise<{ id: string; status: string; output: unknown; error: SerializedError | null }[]> {
    return this.db.query(R.CHILD_STATES, [ids]);
  }

  /**
   * Stores a signal for a run and wakes it if it waits for that name. Returns the run's
   * status, or undefined when there is no such run; a finished run takes no signal.
   */
  sendSignal(
    runId: string,
    name: string,
    payload: unknown,
  ): Promise<{ status: string; stored: boolean } | undefined> {
    return this.db.transaction(async (tx) => {
      const run = (await tx.query<{ status: string }>(G.LOCK_RUN_FOR_SIGNAL, [runId]))[0];
      if (!run) return undefined;
      if (["succeeded", "failed", "cancelled"].includes(run.status))
        return { status: run.status, stored: false };
      await tx.query(G.INSERT_SIGNAL, [runId, name, JSON.stringify(payload ?? null)]);
      await tx.query(G.WAKE_FOR_SIGNAL, [runId, name]);
      return { status: run.status, stored: true };
    });
  }

  /** Consumes a pending signal and journals it; undefined when none is pending (or the claim ended). */
  async consumeSignal(a: {
    runId: string;
    name: string;
    seq: number;
    leaseToken: string;
    attempt: number;
  }): Promise<{ payload: unknown } | undefined> {
    const rows = await this.db.query<{ payload: unknown; journaled: number }>(G.CONSUME_SIGNAL, [
      a.runId,
      a.name,
      a.seq,
      a.leaseToken,
      a.attempt,
    ]);
    const row = rows[0];
    return row && row.journaled > 0 ? { payload: row.payload } : undefined;
  }

  async cancelRun(id: string): Promise<RunRow | undefined> {
    return (await this.db.query<RunRow>(R.CANCEL_RUN, [id]))[0];
  }

  /**
   * Publishes the run's `call`-th progress. Returns whether cancellation was requested, or
   * undefined when the claim is gone.
   */
  async setProgress(
    id: string,
    leaseToken: string,
    data: unknown,
    call: number,
  ): Promise<boolean | undefined> {
    const rows = await this.db.query<{ cancel_requested: boolean }>(R.SET_PROGRESS, [
      id,
      leaseToken,
      JSON.stringify(data ?? null),
      call,
    ]);
    return rows[0]?.cancel_requested;
  }

  async loadJournal(runId: string): Promise<Map<number, JournalEntry>> {
    const rows = await this.db.query<JournalEntry>(S.LOAD_JOURNAL, [runId]);
    return new Map(rows.map((r) => [r.seq, r]));
  }

  listSteps(runId: string): Promise<Record<string, unknown>[]> {
    return this.db.query(S.LIST_STEPS, [runId]);
  }

  async journalSteps(steps: StepWrite[]): Promise<StepWriteResult[]> {
    const rows = await this.db.query<{ run_id: string; seq: number; cancel_requested: boolean }>(
      S.JOURNAL_STEPS,
      [
        steps.map((s) => s.runId),
        steps.map((s) => s.seq),
        steps.map((s) => s.name),
        steps.map((s) => s.kind),
        steps.map((s) => s.status),
        steps.map((s) => (s.status !== "running" && s.outputJson) || null),
        steps.map((s) => (s.status !== "running" && s.error ? JSON.stringify(s.error) : null)),
        steps.map((s) => s.attempt),
        steps.map((s) => s.leaseToken),
        steps.map((s) => s.startedAt.toISOString()),
        steps.map((s) => (s.status === "running" ? null : s.finishedAt.toISOString())),
      ],
    );
    const byKey = new Map(rows.map((r) => [`${r.run_id}:${r.seq}`, r.cancel_requested]));
    return steps.map((s) => {
      const c = byKey.get(`${s.runId}:${s.seq}`);
      return { written: c !== undefined, cancelRequested: c ?? false };
    });
  }
}
