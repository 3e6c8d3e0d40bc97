import type { SerializedError } from "../errors.js";
import type { ChatRequest, ChatResult } from "../llm/types.js";
import type { Logger } from "../util/log.js";
import type { ThreadHandle } from "./thread-context.js";

/**
 * What an agent's code sees: `RunContext` and what its steps get. Replay rules, for code
 * that calls these: every ctx call is numbered in the order the code makes it, and a replay
 * must make the same calls in the same order (else OUTLAST_NONDETERMINISM).
 *
 * - Decisions use `ctx.now()` and `ctx.random()`, never the clock or Math.random.
 * - ctx calls started together (`Promise.all([ctx.step(…), ctx.step(…)])`) are safe: their
 *   numbers are taken at call time. A ctx call made after an await inside concurrent
 *   branches is numbered when its branch resumes, and a replay resumes branches in call
 *   order, which need not be the order they resumed in: make such follow-up calls after
 *   the Promise.all. Distinct names (`ctx.now("after a")`) make a different order fail
 *   loudly (OUTLAST_NONDETERMINISM) instead of swapping results; ctx.random() has none.
 * - No ctx call inside a step's body (a replay does not run the body): refused with
 *   OUTLAST_CTX_IN_STEP while the body runs synchronously; after an await in the body it
 *   cannot be told apart, so it is on the code.
 * - `Promise.race` over ctx calls is not replay-safe: on replay every recorded call settles
 *   at once, in call order, so the first call wins whichever won before; give a step a
 *   `timeoutMs` instead of racing it against a sleep, and race only inside one step's body.
 */
export interface StepContext {
  /**
   * Stable across retries and replays of this step: pass it to external APIs as their
   * idempotency key. A step body runs more than once only if its process died (or lost
   * its lease) while the body was in flight; its recorded result is written exactly once.
   */
  idempotencyKey: string;
  /** Fires when the run is cancelled, times out, this worker loses the run, or the step's own timeout passes. */
  signal: AbortSignal;
  attempt: number;
}

export interface StepOptions {
  /** The step fails with a (retryable) TimeoutError after this long; its signal fires. */
  timeoutMs?: number;
}

/** What an agent's `run` function receives. */
export interface RunContext {
  readonly runId: string;
  readonly agent: string;
  /**
   * The attempt this execution belongs to: 1 on the first, one more after each attempt that
   * ended in an error. Continuing after a wait, a throttle or a crash stays in the attempt.
   */
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
  step<T>(name: string, fn: (step: StepContext) => Promise<T> | T, opts?: StepOptions): Promise<T>;
  /**
   * A credential for this run alone (`olr_…`): it may read the run, its steps and events,
   * signal it, and call the gateway, the calls attributed to the run (its agent, project,
   * feature and tenant) — nothing else. Every token of a run is refused once the run ends
   * (succeeded, failed, cancelled). Not a step and not journaled (the journal is readable
   * with any read key, and a token must not be): the first call of an execution makes one,
   * later calls return it, and a replay makes another; all stay valid until the run ends.
   * Safe to call anywhere, any number of times, without changing the replay.
   *
   * @example
   * ```ts
   * const token = await ctx.runToken();
   * const openai = new OpenAI({ baseURL: `${process.env.OUTLAST_URL}/v1`, apiKey: token });
   * ```
   */
  runToken(): Promise<string>;
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
  llm(request: ChatRequest & { name?: string; thread?: boolean }): Promise<ChatResult>;
  /**
   * The run's thread (a run submitted with `thread_id`): its transcript and state, each
   * write journaled and made once. Without a thread every call throws OUTLAST_NO_THREAD.
   * `ctx.llm({model, thread: true, messages})` prompts with the whole transcript and
   * `messages`, and appends `messages` and the reply in the same journaled step.
   *
   * @example
   * ```ts
   * await ctx.thread.append({ role: "user", content: input.text });
   * const history = await ctx.thread.messages({ last: 20 });
   * ```
   */
  readonly thread: ThreadHandle;
  /**
   * Publishes progress (any JSON) on the run; the latest value shows in `GET /v1/runs/:id`
   * and subscribers get a `run.progress` event. A replay does not publish again what an
   * earlier execution of the run published.
   */
  progress(data: unknown): Promise<void>;
  /**
   * A durable sleep: the run gives up its worker (status `waiting`) and any worker resumes
   * it when the time has come. `duration` is ms or a string such as `"90s"`, `"5m"`, `"2h"`.
   *
   * @example
   * ```ts
   * await ctx.sleep("cool down", "10m");
   * ```
   */
  sleep(name: string, duration: number | string): Promise<void>;
  /** Like `sleep`, until a point in time. */
  sleepUntil(name: string, until: Date | string): Promise<void>;
  /**
   * Waits durably for `POST /v1/runs/:id/signals/:name` and returns its payload. A signal
   * sent before the run gets here is kept. With `timeoutMs`, throws `SignalTimeoutError`
   * (code `OUTLAST_SIGNAL_TIMEOUT`) when none arrives in time; the agent may catch it.
   *
   * @example
   * ```ts
   * const { approved } = await ctx.waitForSignal<{ approved: boolean }>("approval", { timeoutMs: 86_400_000 });
   * ```
   */
  waitForSignal<T = unknown>(name: string, opts?: { timeoutMs?: number }): Promise<T>;
  /**
   * Starts a child run of another agent, on any worker, and waits durably for its output.
   * Several at once (`Promise.all`) run in parallel. A child that fails or is cancelled
   * throws `ChildRunFailedError` (code `OUTLAST_CHILD_FAILED`) here.
   *
   * @example
   * ```ts
   * const [a, b] = await Promise.all([ctx.runAgent("summarise", { url: u1 }), ctx.runAgent("summarise", { url: u2 })]);
   * ```
   */
  runAgent<T = unknown>(agent: string, input: unknown, opts?: { name?: string }): Promise<T>;
  /**
   * The time, journaled: a replay gets the time the first execution saw, so code that
   * branches on it takes the same branch. Use it, not `Date.now()`, for decisions. `name`
   * (default "now") tells calls in concurrent branches apart.
   */
  now(name?: string): Promise<Date>;
  /**
   * A number in [0, 1), the same at the same call on every replay and attempt of the run
   * (derived from the run's id and the call's count; nothing is written). Use it, not
   * `Math.random()`, for decisions; not for secrets, since it is predictable.
   */
  random(): number;
}

export interface ChildState {
  id: string;
  status: string;
  output: unknown;
  error: SerializedError | null;
}
