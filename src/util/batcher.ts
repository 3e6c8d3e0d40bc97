/**
 * Group commit: items submitted while a flush is in flight wait and go to the database
 * together in the next flush — one statement and one transaction for all of them. Each
 * caller still waits for the flush that carries its item. With one flush in flight at a
 * time, batches grow by themselves under load and stay at one item when idle (no timer,
 * so an idle step pays no added latency).
 */
export class Batcher<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly opts: { maxBatch?: number; concurrency?: number } = {},
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    while (this.pending.length > 0 && this.inFlight < (this.opts.concurrency ?? 1)) {
      const batch = this.pending.splice(0, this.opts.maxBatch ?? 500);
      this.inFlight++;
      this.flush(batch.map((b) => b.item))
        .then(
          (results) => {
            for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
          },
          (err) => {
            for (const b of batch) b.reject(err);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.kick();
        });
    }
  }

  /** Resolves when nothing is pending or in flight. */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
