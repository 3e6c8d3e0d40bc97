/**
 * A worker's slots: how many runs it holds at once. The one owner of that count, so every
 * change is checked against its bounds (`0 ≤ busy ≤ capacity`); a broken count would
 * otherwise show up only as a worker that claims too much or stops claiming.
 *
 * A slot is taken when a claim is sent (reserved for the runs it may return) and given back
 * when a reservation comes back unfilled or a run's agent returns.
 */
export class Slots {
  private taken = 0;

  constructor(readonly capacity: number) {
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
    if (next < 0 || next > this.capacity) {
      throw new Error(
        `slot accounting broken: ${this.taken} taken ${by < 0 ? "-" : "+"} ${Math.abs(by)} leaves ${next} of ${this.capacity}`,
      );
    }
    this.taken = next;
  }
}
