import { z } from "zod";
import { RequestError } from "../errors.js";
import type { QuotaService } from "../quota/admission.js";
import type { Db } from "../store/db.js";
import { Repo } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import { ThreadRepo } from "../store/threads.js";
import { runTraceFor } from "../tracing/traceparent.js";
import type { Tracing } from "../tracing/types.js";
import {
  DEFAULT_PROJECT,
  type MultitaskStrategy,
  RUN_STATUSES,
  type RunRow,
} from "../types/index.js";
import { isUuid, uuidv7 } from "../util/ids.js";
import type { AnyAgent } from "./agent.js";
import { DEFAULT_RETRY } from "./backoff.js";
import { emitRunSpan, rowTrace } from "./run-trace.js";
import { RunWaiter } from "./run-waiter.js";
import { submitOnThread } from "./thread-submit.js";
import { agentVersion } from "./versions.js";
import { noWorkerFor, scheduledFor } from "./waiting-for.js";

export interface SubmitRequest {
  /** The project the run belongs to; default `"default"`. The API sets the caller's. */
  project?: string | undefined;
  agent: string;
  input?: unknown;
  queue?: string | undefined;
  /** A number (higher first) or a class: interactive 100, normal 0, background -100. */
  priority?: number | PriorityClass | undefined;
  /**
   * The thread the run belongs to (created on first use): its runs run one at a time, in
   * submit order, and `ctx.thread` reads and writes its transcript and state.
   */
  thread_id?: string | undefined;
  /** What the run does when its thread is busy (default `enqueue`); only with `thread_id`. */
  multitask_strategy?: MultitaskStrategy | undefined;
  idempotency_key?: string | undefined;
  tags?: Record<string, string> | undefined;
  /** Delayed start. */
  run_at?: string | undefined;
  /**
   * The caller's W3C `traceparent`: the run's span becomes its child (docs/tracing.md).
   * An invalid one is ignored, as the spec says.
   */
  traceparent?: string | undefined;
}

/** Statuses of a run that is held: ready when `available_at` has passed. */
const HELD: ReadonlySet<string> = new Set(["queued", "waiting", "throttled"]);

/** Named priorities: interactive work runs before background work in the same queue. */
export const PRIORITY_CLASSES = { interactive: 100, normal: 0, background: -100 } as const;
export type PriorityClass = keyof typeof PRIORITY_CLASSES;

export interface SubmitResult {
  run: RunRow;
  /** False when the idempotency key matched an existing run. */
  created: boolean;
}

export interface ListRequest {
  /** Only this project's runs; default `"default"`. */
  project?: string | undefined;
  status?: string | undefined;
  agent?: string | undefined;
  thread_id?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

/**
 * Submitting, reading, listing, cancelling and waiting for runs: what the HTTP API and
 * the in-process client share. Validation errors are RequestErrors with stable codes.
 *
 * Every method acts within one project (the last argument, or `project` in the request;
 * `"default"` when omitted, as for in-process callers). A run of another project is not
 * found — the same 404 as a run that does not exist, so a caller learns nothing of it.
 */
export class RunService {
  readonly repo: Repo;
  private readonly threads: ThreadRepo;
  private readonly agents: Map<string, AnyAgent>;
  private readonly waiter: RunWaiter;

  constructor(
    readonly db: Db,
    agents: readonly AnyAgent[],
    private readonly queues: readonly string[] = [],
    /** Quota-aware admission (a `whenQuotaShort: "fail"` agent is refused at submit). */
    private readonly quota?: QuotaService,
    /** When set, every run gets a trace at submit (src/tracing). */
    private readonly tracing?: Tracing | undefined,
  ) {
    this.repo = new Repo(db);
    this.threads = new ThreadRepo(db);
    this.agents = new Map(agents.map((a) => [a.name, a]));
    this.waiter = new RunWaiter(db, this.repo);
  }

  start(): Promise<void> {
    return this.waiter.start();
  }

  stop(): Promise<void> {
    return this.waiter.stop();
  }

  agent(name: string): AnyAgent | undefined {
    return this.agents.get(name);
  }

  agentNames(): string[] {
    return [...this.agents.keys()];
  }

  /** The queues this deployment knows: configured ones and every agent's. */
  queueNames(): string[] {
    return [
      ...new Set([...this.queues, ...[...this.agents.values()].map((a) => a.queue ?? "default")]),
    ];
  }

  async submit(req: SubmitRequest): Promise<SubmitResult> {
    const agent = this.agents.get(req.agent);
    if (!agent) {
      throw new RequestError(
        "OUTLAST_UNKNOWN_AGENT",
        `no agent named "${req.agent}"; known agents: ${this.agentNames().join(", ") || "(none)"}`,
      );
    }
    let input = req.input ?? null;
    if (agent.input) {
      const parsed = agent.input.safeParse(input);
      if (!parsed.success) {
        throw new RequestError(
          "OUTLAST_INVALID_INPUT",
          `input does not match agent ${agent.name}: ${z.prettifyError(parsed.error)}`,
          {
            details: parsed.error.issues.map((i) => ({
              path: ["input", ...i.path.map(String)],
              message: i.message,
            })),
          },
        );
      }
      input = req.input ?? null;
    }
    const queue = req.queue ?? agent.queue ?? "default";
    if (this.queues.length > 0 && !this.queues.includes(queue)) {
      throw new RequestError(
        "OUTLAST_UNKNOWN_QUEUE",
        `no queue named "${queue}"; known queues: ${this.queues.join(", ")}`,
      );
    }
    const project = req.project ?? DEFAULT_PROJECT;
    if (agent.whenQuotaShort === "fail" && this.quota) {
      const a = await this.quota.check(agent, {
        project,
        tenant: req.tags?.tenant,
        feature: req.tags?.feature,
      });
      if (!a.admit && a.limit.endsWith(" tpd")) {
        const eta =
          a.etaMs === undefined
            ? "never: the run needs more than the whole daily limit"
            : `in about ${Math.ceil(a.etaMs / 60_000)} min`;
        throw new RequestError(
          "OUTLAST_QUOTA_EXHAUSTED",
          `agent ${agent.name} fails fast when quota is short, and ${a.reason}; it could start ${eta}`,
          {
            details: {
              limit: a.limit,
              eta: a.etaMs === undefined ? null : new Date(Date.now() + a.etaMs).toISOString(),
            },
          },
        );
      }
    }
    const availableAt = req.run_at ? new Date(req.run_at) : undefined;
    if (req.thread_id !== undefined) {
      return submitOnThread(this.threads, this.repo, req, {
        agent: agent.name,
        queue,
        input,
        priority: typeof req.priority === "string" ? PRIORITY_CLASSES[req.priority] : req.priority,
        tags: req.tags,
        idempotencyKey: req.idempotency_key,
        maxAttempts: agent.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
        availableAt,
        agentVersion: agentVersion(agent),
      });
    }
    if (req.multitask_strategy !== undefined) {
      throw new RequestError(
        "OUTLAST_INVALID_REQUEST",
        "multitask_strategy: only a run with a thread_id has one",
      );
    }
    const rows = await withDbRetry(() =>
      this.repo.insertRuns([
        {
          id: uuidv7(),
          project,
          agent: agent.name,
          queue,
          input,
          threadId: req.thread_id,
          priority:
            typeof req.priority === "string" ? PRIORITY_CLASSES[req.priority] : req.priority,
          tags: req.tags,
          idempotencyKey: req.idempotency_key,
          maxAttempts: agent.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
          availableAt,
          agentVersion: agentVersion(agent),
          trace: runTraceFor(req.traceparent, this.tracing !== undefined),
        },
      ]),
    );
    if (rows[0]) return { run: rows[0], created: true };
    const existing = req.idempotency_key
      ? await this.repo.getRunByIdempotencyKey(project, req.idempotency_key)
      : undefined;
    if (!existing) throw new Error("insert returned no run and no idempotent match");
    if (existing.agent !== agent.name) {
      throw new RequestError(
        "OUTLAST_IDEMPOTENCY_CONFLICT",
        `idempotency key "${req.idempotency_key}" already belongs to a run of agent "${existing.agent}"`,
      );
    }
    return { run: existing, created: false };
  }

  async get(id: string, project: string = DEFAULT_PROJECT): Promise<RunRow> {
    if (!isUuid(id))
      throw new RequestError("OUTLAST_INVALID_ID", `"${id}" is not a run id (a UUID)`);
    const run = await withDbRetry(() => this.repo.getProjectRun(id, project));
    if (!run) throw new RequestError("OUTLAST_RUN_NOT_FOUND", `no run with id ${id}`);
    return (await this.explainHeld([run]))[0] as RunRow;
  }

  /**
   * Fills `waiting_for` where it depends on the moment rather than on the run's last write:
   * a ready run whose queue no live worker serves (`no_worker`, which outranks the stored
   * reason: nothing happens until a worker comes), and a run whose `run_at` is ahead.
   */
  private async explainHeld(rows: RunRow[]): Promise<RunRow[]> {
    const now = Date.now();
    const ready = rows.filter(
      (r) => HELD.has(r.status) && new Date(r.available_at).getTime() <= now,
    );
    const served =
      ready.length > 0
        ? await withDbRetry(() => this.repo.servedQueues([...new Set(ready.map((r) => r.queue))]))
        : new Set<string>();
    return rows.map((r) => {
      if (!HELD.has(r.status)) return r;
      const at = new Date(r.available_at);
      if (at.getTime() <= now) {
        return served.has(r.queue) ? r : { ...r, waiting_for: noWorkerFor(r.queue) };
      }
      if (r.status === "queued" && !r.waiting_for && Number.isFinite(at.getTime())) {
        return { ...r, waiting_for: scheduledFor(at.toISOString()) };
      }
      return r;
    });
  }

  async steps(id: string, project: string = DEFAULT_PROJECT): Promise<Record<string, unknown>[]> {
    await this.get(id, project);
    return withDbRetry(() => this.repo.listSteps(id));
  }

  async list(req: ListRequest): Promise<{ runs: RunRow[]; next_cursor: string | null }> {
    if (req.status && !(RUN_STATUSES as readonly string[]).includes(req.status)) {
      throw new RequestError(
        "OUTLAST_INVALID_FILTER",
        `status must be one of ${RUN_STATUSES.join(", ")}`,
      );
    }
    if (req.cursor && !isUuid(req.cursor)) {
      throw new RequestError(
        "OUTLAST_INVALID_CURSOR",
        "cursor must be the next_cursor of a previous page",
      );
    }
    const limit = req.limit ?? 50;
    const rows = await withDbRetry(() =>
      this.repo.listRuns({
        project: req.project ?? DEFAULT_PROJECT,
        status: req.status,
        agent: req.agent,
        threadId: req.thread_id,
        before: req.cursor,
        limit: limit + 1,
      }),
    );
    const more = rows.length > limit;
    const runs = await this.explainHeld(more ? rows.slice(0, limit) : rows);
    return { runs, next_cursor: more ? (runs.at(-1)?.id ?? null) : null };
  }

  async cancel(id: string, project: string = DEFAULT_PROJECT): Promise<RunRow> {
    const current = await this.get(id, project);
    const row = await withDbRetry(() => this.repo.cancelRun(id));
    if (!row) {
      throw new RequestError(
        "OUTLAST_RUN_FINISHED",
        `run ${id} already finished as ${current.status}; there is nothing to cancel`,
      );
    }
    // A run that was not executing ends here; a running one ends in its worker.
    const trace = this.tracing && row.status === "cancelled" ? rowTrace(row) : undefined;
    if (trace && this.tracing) {
      emitRunSpan(
        this.tracing,
        trace,
        { ...row, createdAt: row.created_at },
        "cancelled",
        row.attempt,
        undefined,
      );
    }
    return row;
  }

  /** Sends a signal to a run; kept until a `ctx.waitForSignal(name)` consumes it. */
  async signal(
    id: string,
    name: string,
    payload: unknown,
    project: string = DEFAULT_PROJECT,
  ): Promise<RunRow> {
    await this.get(id, project);
    if (!/^[\w.:-]{1,128}$/.test(name)) {
      throw new RequestError(
        "OUTLAST_INVALID_SIGNAL",
        "signal names use letters, digits, '.', ':', '_' or '-' (at most 128)",
      );
    }
    const res = await withDbRetry(() => this.repo.sendSignal(id, name, payload));
    if (!res) throw new RequestError("OUTLAST_RUN_NOT_FOUND", `no run with id ${id}`);
    if (!res.stored) {
      throw new RequestError(
        "OUTLAST_RUN_FINISHED",
        `run ${id} already finished as ${res.status}; it takes no more signals`,
      );
    }
    return this.get(id, project);
  }

  /** Requeues a failed run with its journal intact: completed steps are not repeated. */
  async resume(id: string, project: string = DEFAULT_PROJECT): Promise<RunRow> {
    const current = await this.get(id, project);
    const row = await withDbRetry(() => this.repo.resumeRun(id));
    if (!row) {
      throw new RequestError(
        "OUTLAST_RUN_NOT_FAILED",
        `run ${id} is ${current.status}; only a failed run can be resumed`,
      );
    }
    const { dropped_steps: _dropped, ...run } = row;
    return run;
  }

  /** The run once it is final, or its current state after `timeoutMs`. */
  async waitFor(
    id: string,
    timeoutMs: number,
    project: string = DEFAULT_PROJECT,
  ): Promise<{ run: RunRow; finished: boolean }> {
    await this.get(id, project);
    const finished = await this.waiter.wait(id, timeoutMs);
    return { run: await this.get(id, project), finished };
  }
}
