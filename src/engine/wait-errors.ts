import { deserializeError, type SerializedError, TerminalError } from "../errors.js";

/** No signal arrived within `waitForSignal`'s timeout. Journaled: replay rethrows it. */
export class SignalTimeoutError extends TerminalError {
  /** Journaled with the error, so a replay rebuilds the same error (reviveError). */
  readonly data: { signal: string; timeoutMs: number };
  constructor(
    readonly signal: string,
    readonly timeoutMs: number,
  ) {
    super(`no signal "${signal}" arrived within ${timeoutMs} ms`, {
      code: "OUTLAST_SIGNAL_TIMEOUT",
    });
    this.data = { signal, timeoutMs };
  }
}

/** A child run started with ctx.runAgent failed or was cancelled. */
export class ChildRunFailedError extends TerminalError {
  /** Journaled with the error, so a replay rebuilds the same error (reviveError). */
  readonly data: {
    childAgent: string;
    childRunId: string;
    childStatus: string;
    childError: SerializedError | null;
  };
  constructor(
    readonly childAgent: string,
    readonly childRunId: string,
    readonly childStatus: string,
    readonly childError: SerializedError | null,
  ) {
    super(
      `child run ${childRunId} of agent "${childAgent}" ${childStatus}${childError ? `: ${childError.message}` : ""}`,
      { code: "OUTLAST_CHILD_FAILED" },
    );
    this.data = { childAgent, childRunId, childStatus, childError };
  }
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * A journaled failure as the agent first saw it: a `SignalTimeoutError` or a
 * `ChildRunFailedError` is rebuilt as that class (so `instanceof` takes the same branch on
 * replay), anything else as a `TerminalError` with the recorded name, code and message.
 * Journals written before errors carried `data` rebuild the class from the message.
 */
export function reviveError(e: SerializedError): TerminalError {
  const d = e.data ?? {};
  let err: TerminalError;
  if (e.code === "OUTLAST_SIGNAL_TIMEOUT") {
    err = new SignalTimeoutError(str(d.signal), Number(d.timeoutMs ?? 0));
  } else if (e.code === "OUTLAST_CHILD_FAILED") {
    err = new ChildRunFailedError(
      str(d.childAgent),
      str(d.childRunId),
      str(d.childStatus),
      (d.childError as SerializedError | null | undefined) ?? null,
    );
  } else {
    return deserializeError(e);
  }
  err.message = e.message;
  return err;
}
