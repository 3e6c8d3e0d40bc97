import { type SerializedError, TerminalError } from "../errors.js";

/** No signal arrived within `waitForSignal`'s timeout. Journaled: replay rethrows it. */
export class SignalTimeoutError extends TerminalError {
  constructor(signal: string, timeoutMs: number) {
    super(`no signal "${signal}" arrived within ${timeoutMs} ms`, {
      code: "OUTLAST_SIGNAL_TIMEOUT",
    });
  }
}

/** A child run started with ctx.runAgent failed or was cancelled. */
export class ChildRunFailedError extends TerminalError {
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
  }
}
