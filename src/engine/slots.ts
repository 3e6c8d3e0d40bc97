/**
 * A worker's slots: how many runs it holds at once. The one owner of that count, so every
 * change is checked against its bounds (`0 ≤ busy ≤ capacity`); a broken count would
 * otherwise show up only as a worker that claims too much or stops claiming.
 *
 * A slot is taken when a claim is sent (reserved for the runs it may return) and given back
 * when a reservation comes back unfilled or a run's agent returns.
 *
 * A change that would leave the bounds is a bug in the worker. It is not thrown where it is
 * found (in a claim loop, a finish batch or a run's settling, where a throw would leave a
 * claimed run unexecuted or a run `running` under a live lease): the count is kept inside
 * its bounds and `broken` is called, and the worker stops on purpose (fail-stop).
 */
export class Slots {
  private taken = 0;

  constructor(
    readonly capacity: number,
    private readonly broken: (err: Error) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${capacity}`);
    }
  }

  /** Slots taken: runs executing plus slots reserved by claims in flight. */
  get busy(): number {
    return this.taken;
  }

  /** Takes every free slot for a claim; returns how many. */
  reserveFree(): number {
    const n = this.capacity - this.taken;
    this.move(n);
    return n;
  }

  /** Gives back `n` slots: a claim's unfilled reservation, or a run that ended. */
  release(n = 1): void {
    this.move(-n);
  }

  private move(by: number): void {
    const next = this.taken + by;
    if (next >= 0 && next <= this.capacity) {
      this.taken = next;
      return;
    }
    const sign = by < 0 ? "-" : "+";
    this.taken = Math.min(this.capacity, Math.max(0, next));
    this.broken(
      new Error(
        `slot accounting broken: ${next - by} taken ${sign} ${Math.abs(by)} leaves ${next} of ${this.capacity}`,
      ),
    );
  }
}
