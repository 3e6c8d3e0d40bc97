import { createHash } from "node:crypto";
import {
  CancelledError,
  errorKind,
  NonDeterminismError,
  type SerializedError,
  serializeError,
  TerminalError,
  TimeoutError,
} from "../errors.js";
import type { ChatRequest, ChatResult, LlmClient } from "../llm/types.js";
import type { Span, SpanIds, Tracing } from "../tracing/types.js";
import type { JournalEntry, StartedStep, StepRecord, Wait, WaitingFor } from "../types/index.js";
import type { Logger } from "../util/log.js";
import { abortReason } from "../util/signal.js";
import { parseDuration } from "./duration.js";
import type { ChildState, RunContext, StepContext, StepOptions } from "./run-context.js";
import {
  type ThreadAccess,
  type ThreadHandle,
  ThreadHandleImpl,
  threadChat,
} from "./thread-context.js";
import { ChildRunFailedError, reviveError, SignalTimeoutError } from "./wait-errors.js";

export type { ChildState, RunContext, StepContext, StepOptions };

export interface ContextDeps {
  runId: string;
  agent: string;
  attempt: number;
  /** How many `ctx.progress` calls of the run earlier executions published. */
  progressPublished: number;
  journal: ReadonlyMap<number, JournalEntry>;
  /** What the run waited for before this claim (keeps deadlines fixed across replays). */
  priorWaits: WaitingFor | null;
  abort: AbortController;
  log: Logger;
  llm: LlmClient | undefined;
  /** Tags of the run the gateway attributes cost to (`feature`, `tenant`). */
  attribution?: { project?: string; feature?: string; tenant?: string };
  /**
   * A step's body starts (`ctx.step`, `ctx.llm`): journal it as running, without making
   * the step wait for that write. `record` of the same seq then finishes it.
   */
  started(step: StartedStep): void;
  record(step: StepRecord): Promise<void>;
  /** Publishes the run's `call`-th progress (1-based, counted from the top of the agent). */
  setProgress(data: unknown, call: number): Promise<void>;
  /** Consumes and journals a pending signal; undefined when none is pending. */
  consumeSignal(name: string, seq: number): Promise<{ payload: unknown } | undefined>;
  /** Creates the child run (idempotent per key) and returns its current state. */
  startChild(agent: string, input: unknown, idempotencyKey: string): Promise<ChildState>;
  /** Every ctx call in flight is blocked: park the run until one of `waits` can proceed. */
  park(waits: Wait[]): void;
  /** Makes a run-scoped token (src/auth/keys.ts); absent where runs have no store. */
  mintRunToken?: (() => Promise<string>) | undefined;
  /** Record a span per step whose body runs, under `parent` (the attempt's span). */
  trace?: { tracing: Tracing; parent: SpanIds } | undefined;
  /** The run's thread, when it has one (`ctx.thread`). */
  thread?: ThreadAccess | undefined;
}

/** A step's body, as the context calls it: with the step's span when it is traced. */
type Body = (step: StepContext, span: Span | undefined) => unknown;

/**
 * Replays the journal, then executes and records new steps. One instance per attempt.
 *
 * Waiting (sleep, signals, child runs) never holds the worker: a wait that cannot proceed
 * "blocks" — its promise stays pending — and once every ctx call in flight is blocked, the
 * worker parks the run and forgets it (the pending promises and the
 * agent's frames are garbage then). When a wait can proceed the run is claimed again and
 * replayed; the wait finds its answer and is journaled like any step.
 */
export class RunContextImpl implements RunContext {
  private seq = 0;
  /** ctx.progress calls so far; numbered like steps, but without taking a sequence number. */
  private progressCalls = 0;
  /** ctx.random calls so far: the count seeds each value. */
  private randomCalls = 0;
  /** The step whose body is running synchronously right now, if any. */
  private inStepBody: string | undefined;
  private inFlight = 0;
  private readonly blocked: Wait[] = [];
  private parkScheduled = false;
  private runTokenPromise: Promise<string> | undefined;
  private threadHandle: ThreadHandle | undefined;

  constructor(private readonly deps: ContextDeps) {}

  get thread(): ThreadHandle {
    this.threadHandle ??= new ThreadHandleImpl(this.deps.thread, {
      op: (kind, name, body) => this.op(kind, name, body),
      record: async (seq, kind, name, startedAt, value) => {
        await this.record(seq, kind, name, startedAt, { ok: true, value });
      },
    });
    return this.threadHandle;
  }

  get runId(): string {
    return this.deps.runId;
  }
  get agent(): string {
    return this.deps.agent;
  }
  get attempt(): number {
    return this.deps.attempt;
  }
  get signal(): AbortSignal {
    return this.deps.abort.signal;
  }
  get log(): Logger {
    return this.deps.log;
  }

  step<T>(
    name: string,
    fn: (step: StepContext) => Promise<T> | T,
    opts: StepOptions = {},
  ): Promise<T> {
    return this.op("step", name, (seq) => this.runStep(seq, "step", name, fn, opts)) as Promise<T>;
  }

  runToken(): Promise<string> {
    const mint = this.deps.mintRunToken;
    if (!mint) {
      return Promise.reject(
        new TerminalError("run tokens need the run's store", { code: "OUTLAST_NO_RUN_TOKENS" }),
      );
    }
    this.runTokenPromise ??= mint().catch((err) => {
      this.runTokenPromise = undefined;
      throw err;
    });
    return this.runTokenPromise;
  }

  llm(request: ChatRequest & { name?: string; thread?: boolean }): Promise<ChatResult> {
    const { name, thread, ...body } = request;
    const stepName = name ?? `llm:${body.model}`;
    return this.op("llm", stepName, (seq) =>
      this.runStep(seq, "llm", stepName, async ({ signal }, span) => {
        const llm = this.deps.llm;
        if (!llm) {
          throw new TerminalError("no LLM provider is configured", { code: "OUTLAST_NO_PROVIDER" });
        }
        const chat = (messages: ChatRequest["messages"]) =>
          llm.chat(
            { ...body, messages },
            {
              signal,
              runId: this.runId,
              agent: this.agent,
              step: stepName,
              ...this.deps.attribution,
              ...(span ? { trace: span.ids } : {}),
            },
          );
        return thread
          ? threadChat(this.deps.thread, seq, body.messages, chat)
          : chat(body.messages);
      }),
    ) as Promise<ChatResult>;
  }

  async progress(data: unknown): Promise<void> {
    this.throwIfStopped();
    const call = ++this.progressCalls;
    // A replay passes the calls an earlier execution published: publishing them again made
    // progress go backwards and sent subscribers duplicates. (SET_PROGRESS ignores such a
    // call too, for calls racing a lease change; skipping it here saves the write.)
    if (call <= this.deps.progressPublished) return;
    await this.deps.setProgress(data, call);
  }

  sleep(name: string, duration: number | string): Promise<void> {
    const ms = parseDuration(duration);
    return this.sleepOp(name, () => Date.now() + ms);
  }

  sleepUntil(name: string, until: Date | string): Promise<void> {
    const at = new Date(until).getTime();
    if (!Number.isFinite(at))
      return Promise.reject(new TypeError(`sleepUntil: invalid date ${String(until)}`));
    return this.sleepOp(name, () => at);
  }

  private sleepOp(name: string, firstUntil: () => number): Promise<void> {
    return this.op("sleep", name, async (seq) => {
      const until = this.priorUntil(seq, "sleep") ?? firstUntil();
      if (Date.now() >= until) {
        await this.record(seq, "sleep", name, new Date(), {
          ok: true,
          value: { until: new Date(until).toISOString() },
        });
        return undefined;
      }
      return this.block({ seq, kind: "sleep", name, until: new Date(until).toISOString() });
    }) as Promise<void>;
  }

  waitForSignal<T>(name: string, opts: { timeoutMs?: number } = {}): Promise<T> {
    return this.op("signal", name, async (seq) => {
      const got = await this.deps.consumeSignal(name, seq);
      if (got) return got.payload;
      const deadline =
        opts.timeoutMs === undefined
          ? undefined
          : (this.priorUntil(seq, "signal") ?? Date.now() + opts.timeoutMs);
      if (deadline !== undefined && Date.now() >= deadline) {
        const err = new SignalTimeoutError(name, opts.timeoutMs ?? 0);
        await this.record(seq, "signal", name, new Date(), { ok: false, error: err });
        throw err;
      }
      return this.block({
        seq,
        kind: "signal",
        name,
        ...(deadline === undefined ? {} : { until: new Date(deadline).toISOString() }),
      });
    }) as Promise<T>;
  }

  runAgent<T>(agent: string, input: unknown, opts: { name?: string } = {}): Promise<T> {
    const name = opts.name ?? `agent:${agent}`;
    return this.op("child", name, async (seq) => {
      const child = await this.deps.startChild(agent, input, `${this.runId}:${seq}`);
      if (child.status === "succeeded") {
        await this.record(seq, "child", name, new Date(), { ok: true, value: child.output });
        return child.output;
      }
      if (child.status === "failed" || child.status === "cancelled") {
        const err = new ChildRunFailedError(agent, child.id, child.status, child.error);
        await this.record(seq, "child", name, new Date(), { ok: false, error: err });
        throw err;
      }
      return this.block({ seq, kind: "child", name, childId: child.id });
    }) as Promise<T>;
  }

  now(name = "now"): Promise<Date> {
    return this.op("now", name, async (seq) => {
      const at = new Date();
      await this.record(seq, "now", name, at, { ok: true, value: at.toISOString() });
      return at.toISOString();
    }).then((iso) => new Date(iso as string));
  }

  random(): number {
    this.refuseInsideStepBody("random()");
    const call = ++this.randomCalls;
    const digest = createHash("sha256").update(`${this.runId}:random:${call}`).digest();
    return digest.readUIntBE(0, 6) / 2 ** 48;
  }

  /**
   * Calls a step's body, noting the step while the body runs synchronously: a ctx call made
   * then is inside the body, which a replay does not run, so the call would not happen
   * again and every later call would shift (silently, for ctx.random()). Only the
   * synchronous part can be told apart without AsyncLocalStorage, whose promise hooks
   * would tax every promise on Node 20; the rest is documented (run-context.ts).
   */
  private callBody(name: string, fn: Body, step: StepContext, span: Span | undefined): unknown {
    this.inStepBody = name;
    try {
      return fn(step, span);
    } finally {
      this.inStepBody = undefined;
    }
  }

  private refuseInsideStepBody(call: string): void {
    if (this.inStepBody === undefined) return;
    throw new TerminalError(
      `ctx.${call} inside the body of step "${this.inStepBody}": a replay does not run a journaled step's body, so the call would not happen again. Make it outside the step, or use Math.random() or Date.now() inside it (the step's result is journaled).`,
      { code: "OUTLAST_CTX_IN_STEP" },
    );
  }

  /** The deadline a wait at `seq` had before this claim, so replays keep it. */
  private priorUntil(seq: number, kind: Wait["kind"]): number | undefined {
    const w = this.deps.priorWaits?.waits.find((x) => x.seq === seq && x.kind === kind);
    return w?.until ? new Date(w.until).getTime() : undefined;
  }

  /** The abort reason, as the error the agent should see at a step boundary. */
  private throwIfStopped(): void {
    const signal = this.deps.abort.signal;
    if (!signal.aborted) return;
    const reason: unknown = signal.reason;
    if (reason instanceof Error) throw reason;
    throw new CancelledError();
  }

  /**
   * One ctx call: takes the next sequence number, replays it from the journal when it is
   * there, else runs `body`. The sequence number is taken synchronously at call time, so
   * calls started together (Promise.all) get the same numbers in every replay, whatever
   * order they finish in.
   */
  private async op(
    kind: string,
    name: string,
    body: (seq: number) => Promise<unknown>,
  ): Promise<unknown> {
    if (this.inStepBody !== undefined) {
      this.refuseInsideStepBody(`${kind === "child" ? "runAgent" : kind}("${name}")`);
    }
    const seq = ++this.seq;
    this.throwIfStopped();
    const recorded = this.deps.journal.get(seq);
    if (recorded) {
      if (recorded.name !== name || recorded.kind !== kind) {
        const what = (k: string, n: string) => `${k === "step" ? "" : `${k} `}"${n}"`;
        throw new NonDeterminismError(
          `step ${seq} of run ${this.runId}: the journal recorded ${what(recorded.kind, recorded.name)} but the code now calls ${what(kind, name)}. The agent's code changed under a running run, or it branches on something that is not journaled (the clock or Math.random instead of ctx.now() or ctx.random(), I/O outside ctx.step).`,
        );
      }
      if (recorded.status === "failed") throw reviveError(recorded.error as SerializedError);
      return recorded.output;
    }
    this.inFlight++;
    try {
      return await body(seq);
    } finally {
      this.inFlight--;
      this.maybeSuspend();
    }
  }

  private async runStep(
    seq: number,
    kind: string,
    name: string,
    fn: Body,
    opts: StepOptions = {},
  ): Promise<unknown> {
    const startedAt = new Date();
    this.deps.started({ seq, name, kind, startedAt });
    const trace = this.deps.trace;
    const span = trace
      ? trace.tracing.start(`step ${name}`, trace.parent, {
          startTime: startedAt,
          attributes: {
            "outlast.run.id": this.runId,
            "outlast.step.seq": seq,
            "outlast.step.kind": kind,
            "outlast.step.name": name,
          },
        })
      : undefined;
    // Each step gets a signal of its own, linked to the run's while the step runs: a body
    // that listens on it (fetch, a timer) leaves nothing behind on the run's signal, which
    // otherwise collected a listener per step (MaxListenersExceededWarning past 10 steps).
    const runSignal = this.deps.abort.signal;
    const stepAbort = new AbortController();
    const follow = () => stepAbort.abort(runSignal.reason);
    if (runSignal.aborted) follow();
    else runSignal.addEventListener("abort", follow, { once: true });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              stepAbort.abort(
                new TimeoutError(`step "${name}" exceeded its time budget of ${opts.timeoutMs} ms`),
              ),
            opts.timeoutMs,
          );
    let output: unknown;
    try {
      const body = Promise.resolve(
        this.callBody(
          name,
          fn,
          {
            idempotencyKey: `${this.runId}:${seq}`,
            signal: stepAbort.signal,
            attempt: this.attempt,
          },
          span,
        ),
      );
      // A step with a time budget ends when the budget does, whether or not its body
      // listens to the signal; without one, the body decides.
      output = timer
        ? await Promise.race([body, abortReason(stepAbort.signal).then(rethrow)])
        : await body;
    } catch (err) {
      if (span) {
        span.fail(err);
        span.end();
      }
      if (errorKind(err) === "terminal" && !this.deps.abort.signal.aborted) {
        await this.record(seq, kind, name, startedAt, { ok: false, error: err });
      }
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      runSignal.removeEventListener("abort", follow);
    }
    span?.end();
    this.throwIfStopped();
    const outputJson = await this.record(seq, kind, name, startedAt, { ok: true, value: output });
    // Return what replay would return: the JSON round trip (Dates become strings, etc.).
    return outputJson === undefined ? undefined : JSON.parse(outputJson);
  }

  private async record(
    seq: number,
    kind: string,
    name: string,
    startedAt: Date,
    result: { ok: true; value: unknown } | { ok: false; error: unknown },
  ): Promise<string | undefined> {
    const outputJson = result.ok ? JSON.stringify(result.value) : undefined;
    await this.deps.record({
      seq,
      name,
      kind,
      status: result.ok ? "succeeded" : "failed",
      outputJson,
      error: result.ok ? undefined : serializeError(result.error),
      startedAt,
      finishedAt: new Date(),
    });
    return outputJson;
  }

  private block(wait: Wait): Promise<never> {
    this.blocked.push(wait);
    this.maybeSuspend();
    // A fresh promise per wait, referenced only by the agent's own frames, so a parked run
    // is garbage once the worker drops it. (One shared never-settling promise kept every
    // parked run's frames alive in its reaction list: +35% RSS over 10k sleeping runs.)
    return new Promise<never>(() => {});
  }

  /**
   * Suspends once every ctx call in flight is blocked. Checked a macrotask later so that
   * calls the agent starts right after (the rest of a Promise.all) are counted first.
   */
  private maybeSuspend(): void {
    if (this.parkScheduled || this.blocked.length === 0) return;
    this.parkScheduled = true;
    setImmediate(() => {
      this.parkScheduled = false;
      if (
        this.blocked.length > 0 &&
        this.blocked.length === this.inFlight &&
        !this.deps.abort.signal.aborted
      ) {
        this.deps.park([...this.blocked]);
      }
    });
  }
}

function rethrow(reason: unknown): never {
  throw reason;
}
