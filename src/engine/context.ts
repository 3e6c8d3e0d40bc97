import {
  CancelledError,
  deserializeError,
  errorKind,
  NonDeterminismError,
  type SerializedError,
  serializeError,
  TerminalError,
} from "../errors.js";
import type { ChatRequest, ChatResult, LlmClient } from "../llm/types.js";
import type { Logger } from "../util/log.js";
import type { JournalEntry, StepRecord } from "./journal.js";

export interface StepContext {
  /**
   * Stable across retries and replays of this step: pass it to external APIs as their
   * idempotency key. A step body runs more than once only if its process died (or lost
   * its lease) while the body was in flight; its recorded result is written exactly once.
   */
  idempotencyKey: string;
  /** Fires when the run is cancelled, times out or this worker loses the run. */
  signal: AbortSignal;
  attempt: number;
}

/** What an agent's `run` function receives. */
export interface RunContext {
  readonly runId: string;
  readonly agent: string;
  /** 1 on the first attempt; counts attempts that ended in an error. */
  readonly attempt: number;
  /** Fires on cancellation, timeout, lease loss or worker shutdown. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * Runs `fn` once and journals its JSON result. On replay the recorded result is returned
   * and `fn` is not called. A `TerminalError` thrown by `fn` is journaled too and rethrown
   * on replay; any other error is not recorded: it fails the attempt, and the next attempt
   * runs the step again.
   *
   * @example
   * ```ts
   * const page = await ctx.step("fetch page", ({ signal }) => fetch(url, { signal }).then((r) => r.text()));
   * ```
   */
  step<T>(name: string, fn: (step: StepContext) => Promise<T> | T): Promise<T>;
  /**
   * A journaled chat-completion call: after a crash the recorded answer is reused, so a
   * finished LLM call is never paid for twice.
   *
   * @example
   * ```ts
   * const r = await ctx.llm({ model: "fast", messages: [{ role: "user", content: "Plan a trip" }] });
   * console.log(r.content, r.usage.outputTokens);
   * ```
   */
  llm(request: ChatRequest & { name?: string }): Promise<ChatResult>;
  /** Publishes progress (any JSON) on the run; the latest value shows in `GET /v1/runs/:id`. */
  progress(data: unknown): Promise<void>;
}

export interface ContextDeps {
  runId: string;
  agent: string;
  attempt: number;
  journal: ReadonlyMap<number, JournalEntry>;
  abort: AbortController;
  log: Logger;
  llm: LlmClient | undefined;
  record(step: StepRecord): Promise<void>;
  setProgress(data: unknown): Promise<void>;
}

/** Replays the journal, then executes and records new steps. One instance per attempt. */
export class RunContextImpl implements RunContext {
  private seq = 0;

  constructor(private readonly deps: ContextDeps) {}

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

  step<T>(name: string, fn: (step: StepContext) => Promise<T> | T): Promise<T> {
    return this.execute("step", name, fn) as Promise<T>;
  }

  llm(request: ChatRequest & { name?: string }): Promise<ChatResult> {
    const { name, ...body } = request;
    return this.execute("llm", name ?? `llm:${body.model}`, async ({ signal }) => {
      if (!this.deps.llm)
        throw new TerminalError("no LLM provider is configured", { code: "OUTLAST_NO_PROVIDER" });
      return this.deps.llm.chat(body, { signal, runId: this.runId, agent: this.agent });
    }) as Promise<ChatResult>;
  }

  async progress(data: unknown): Promise<void> {
    this.throwIfStopped();
    await this.deps.setProgress(data);
  }

  /** The abort reason, as the error the agent should see at a step boundary. */
  private throwIfStopped(): void {
    const signal = this.deps.abort.signal;
    if (!signal.aborted) return;
    const reason: unknown = signal.reason;
    if (reason instanceof Error) throw reason;
    throw new CancelledError();
  }

  private async execute(
    kind: string,
    name: string,
    fn: (step: StepContext) => unknown,
  ): Promise<unknown> {
    // The sequence number is taken synchronously at call time, so steps started together
    // with Promise.all get the same numbers in every replay, whatever order they finish in.
    const seq = ++this.seq;
    this.throwIfStopped();
    const recorded = this.deps.journal.get(seq);
    if (recorded) {
      if (recorded.name !== name || recorded.kind !== kind) {
        throw new NonDeterminismError(
          `step ${seq} of run ${this.runId}: the journal recorded ${kind === recorded.kind ? "" : `${recorded.kind} `}"${recorded.name}" but the code now calls ${kind === recorded.kind ? "" : `${kind} `}"${name}". The agent's code changed under a running run, or it branches on something that is not journaled (time, randomness, I/O outside ctx.step).`,
        );
      }
      if (recorded.status === "failed") throw deserializeError(recorded.error as SerializedError);
      return recorded.output;
    }

    const startedAt = new Date();
    let output: unknown;
    try {
      output = await fn({
        idempotencyKey: `${this.runId}:${seq}`,
        signal: this.deps.abort.signal,
        attempt: this.attempt,
      });
    } catch (err) {
      if (errorKind(err) === "terminal" && !this.deps.abort.signal.aborted) {
        await this.deps.record({
          seq,
          name,
          kind,
          status: "failed",
          outputJson: undefined,
          error: serializeError(err),
          startedAt,
          finishedAt: new Date(),
        });
      }
      throw err;
    }
    if (
      this.deps.abort.signal.aborted &&
      errorKind(this.deps.abort.signal.reason) === "lease_lost"
    ) {
      throw this.deps.abort.signal.reason;
    }
    const outputJson = JSON.stringify(output);
    await this.deps.record({
      seq,
      name,
      kind,
      status: "succeeded",
      outputJson,
      error: undefined,
      startedAt,
      finishedAt: new Date(),
    });
    // Return what replay would return: the JSON round trip (Dates become strings, etc.).
    return outputJson === undefined ? undefined : JSON.parse(outputJson);
  }
}
