import { z } from "zod";
import {
  errorKind,
  LeaseLostError,
  OutlastError,
  RateLimitedError,
  serializeError,
  TerminalError,
  TimeoutError,
} from "../errors.js";
import type { Admission } from "../quota/admission.js";
import type { ClaimedRun, Wait } from "../types/index.js";
import { abortReason } from "../util/signal.js";
import type { AnyAgent } from "./agent.js";
import { backoffDelayMs, DEFAULT_RETRY } from "./backoff.js";

/** Why a worker stopped executing a run that did not finish: it gives the run back. */
export class ShutdownError extends LeaseLostError {
  constructor() {
    super("the worker is shutting down; the run goes back to the queue");
  }
}

/**
 * Every ctx call in flight is waiting (sleep, signal, child run): the worker parks the run
 * and forgets it. Internal: agents never see it (their pending calls simply never settle).
 */
export class ParkSignal extends OutlastError {
  constructor(readonly waits: Wait[]) {
    super("parked", "OUTLAST_PARKED", "the run is waiting; parked until a wait can proceed");
  }
}

/** What the worker must do with a run after its attempt ended. */
export type Outcome =
  | { kind: "succeeded"; outputJson: string | undefined }
  | { kind: "failed"; error: unknown }
  | { kind: "cancelled"; error: unknown }
  | { kind: "retry"; error: unknown; delayMs: number }
  | { kind: "throttled"; error: unknown; delayMs: number; limit: string | undefined }
  | { kind: "park"; waits: Wait[] }
  | { kind: "release" }
  | { kind: "abandon" };

/**
 * Runs the agent function until it returns, throws, or the run's signal fires (cancel,
 * timeout, lease loss, shutdown) — whichever comes first. An agent that ignores its signal
 * keeps running in the background, but every later ctx call throws and its writes are
 * fenced by the lease token, so it can change nothing.
 */
export async function runAgent(
  agent: AnyAgent,
  run: ClaimedRun,
  ctx: Parameters<AnyAgent["run"]>[0],
  abort: AbortController,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  if (agent.timeoutMs) {
    timer = setTimeout(
      () => abort.abort(new TimeoutError(`run exceeded its time budget of ${agent.timeoutMs} ms`)),
      agent.timeoutMs,
    );
  }
  try {
    const input = parseInput(agent, run.input);
    const result = await Promise.race([
      agent.run(ctx, input as never).then((output) => ({ output })),
      abortReason(abort.signal).then((reason) => ({ reason })),
    ]);
    if ("reason" in result) return classify(result.reason, run, agent);
    if (abort.signal.aborted) return classify(abort.signal.reason, run, agent);
    return { kind: "succeeded", outputJson: JSON.stringify(result.output) };
  } catch (err) {
    // A ctx call that saw the abort rethrows its reason; prefer the signal's own reason.
    return classify(abort.signal.aborted ? abort.signal.reason : err, run, agent);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function parseInput(agent: AnyAgent, input: unknown): unknown {
  if (!agent.input) return input;
  const parsed = agent.input.safeParse(input);
  if (!parsed.success) {
    throw new TerminalError(
      `input does not match agent ${agent.name}: ${z.prettifyError(parsed.error)}`,
      {
        code: "OUTLAST_INVALID_INPUT",
      },
    );
  }
  return parsed.data;
}

export function classify(err: unknown, run: ClaimedRun, agent: AnyAgent): Outcome {
  if (err instanceof ShutdownError) return { kind: "release" };
  if (err instanceof ParkSignal) return { kind: "park", waits: err.waits };
  const kind = errorKind(err);
  const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
  if (kind === "lease_lost") return { kind: "abandon" };
  if (kind === "cancelled") return { kind: "cancelled", error: err };
  if (kind === "terminal") return { kind: "failed", error: err };
  if (kind === "rate_limited") {
    const limit = (err as { limit?: unknown }).limit;
    return {
      kind: "throttled",
      error: err,
      delayMs: typeof retryAfterMs === "number" ? retryAfterMs : 1_000,
      limit: typeof limit === "string" ? limit : undefined,
    };
  }
  // `run.attempt` is the attempt that just failed (1-based); `max_attempts` is this worker's
  // policy, applied by the claim (LEASE in src/store/sql/runs.ts).
  if (run.attempt >= run.maxAttempts) return { kind: "failed", error: err };
  const policy = { ...DEFAULT_RETRY, ...agent.retry };
  const delayMs =
    typeof retryAfterMs === "number" ? retryAfterMs : backoffDelayMs(policy, run.attempt);
  return { kind: "retry", error: err, delayMs };
}

/** An error as the run shows it: `retryable` says whether the engine would try again. */
export function errorJson(err: unknown) {
  const e = serializeError(err);
  const kind = errorKind(err);
  return { ...e, retryable: kind !== "terminal" && kind !== "cancelled" };
}

/** Ceiling on one throttled wait for admission, so a run re-checks as quota changes. */
const ADMISSION_RECHECK_MS = 60_000;

export function admissionOutcome(a: Admission): Outcome | undefined {
  if (a.admit) return undefined;
  const error = new RateLimitedError(`not admitted: ${a.reason}`, { limit: a.limit });
  if (a.etaMs === undefined) {
    return {
      kind: "failed",
      error: new TerminalError(`the run can never start: ${a.reason}`, {
        code: "OUTLAST_QUOTA_EXHAUSTED",
      }),
    };
  }
  return {
    kind: "throttled",
    error,
    delayMs: Math.min(ADMISSION_RECHECK_MS, Math.max(50, a.etaMs)),
    limit: a.limit,
  };
}
