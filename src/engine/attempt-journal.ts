import { CancelledError, LeaseLostError } from "../errors.js";
import type { StepWrite, StepWriteResult } from "../store/repo.js";
import type { StartedStep, StepRecord } from "../types/index.js";
import type { Batcher, LazyItem } from "../util/batcher.js";

/**
 * How long a step's "started" row may wait to ride along with another journal write
 * before it is written alone. A step that ends sooner is written once, final (the common
 * short step costs no extra write); an SSE client sees a long step start within this.
 */
const STARTED_WRITE_DELAY_MS = 20;

/**
 * The journal writes of one attempt of a run, through the worker's group-commit batcher:
 * a step's start (lazily, see migration 006) and its end, fenced by the claim's lease.
 */
export class AttemptJournal {
  /** Starts submitted lazily whose step has not ended yet, by seq. */
  private readonly starts = new Map<number, LazyItem<StepWriteResult>>();

  constructor(
    private readonly batcher: Batcher<StepWrite, StepWriteResult>,
    private readonly run: { id: string; leaseToken: string },
    private readonly attempt: number,
    /** Aborted when a write finds the claim lost or the run asked to cancel. */
    private readonly abort: AbortController,
  ) {}

  started(step: StartedStep): void {
    const start = this.batcher.submitLazy(
      { ...step, status: "running", ...this.fence() },
      STARTED_WRITE_DELAY_MS,
    );
    // Awaited (if at all) by the step's record; a failed write shows there.
    start.promise.catch(() => {});
    this.starts.set(step.seq, start);
  }

  async record(step: StepRecord): Promise<void> {
    // The step's start not written yet: the final row carries both (one write).
    // Written or in flight: the final write must follow it (events in order).
    const start = this.starts.get(step.seq);
    this.starts.delete(step.seq);
    if (start && !start.withdraw()) await start.promise.catch(() => {});
    const res = await this.batcher.submit({ ...step, ...this.fence() });
    if (!res.written) {
      const err = new LeaseLostError(
        `step ${step.seq} of run ${this.run.id} was not journaled: the claim is no longer current`,
      );
      this.abort.abort(err);
      throw err;
    }
    if (res.cancelRequested) this.abort.abort(new CancelledError());
  }

  /**
   * Writes the starts of steps that never ended (their attempt failed or was cancelled)
   * before the attempt's outcome is written, so the run's events stay in order.
   */
  async flushUnfinished(): Promise<void> {
    await Promise.all([...this.starts.values()].map((s) => s.flush().catch(() => {})));
  }

  private fence() {
    return { runId: this.run.id, leaseToken: this.run.leaseToken, attempt: this.attempt };
  }
}
