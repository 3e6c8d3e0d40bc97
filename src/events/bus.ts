import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Db } from "../store/db.js";
import { withDbRetry } from "../store/retry.js";
import { EVENTS_CHANNEL, REFRESH_WATCHES, UNWATCH_RUN, WATCH_RUN } from "../store/sql/events.js";

const WATCH_TTL_MS = 60_000;

/**
 * One LISTEN per process for new run events, fanned out to whoever waits on a run (SSE
 * streams). A run's events NOTIFY only while some process watches it (outlast.event_watchers,
 * see migration 004): `watch` registers this process, refreshed every TTL/2, and `unwatch`
 * removes it when its last stream ends.
 *
 * NOTIFY is a latency hint only: every waiter also wakes after its poll interval, so a
 * missed notification (a listener reconnecting, a watch not yet visible) costs latency,
 * never an event.
 *
 * @example
 * ```ts
 * const bus = new EventBus(db);
 * await bus.watch(runId);
 * await bus.wait(runId, 1_000, signal); // a new event for runId, the timeout, or abort
 * await bus.unwatch(runId);
 * ```
 */
export class EventBus {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Watched runs and how many streams watch each. */
  private readonly watched = new Map<string, number>();
  /** Watched runs notified while nobody waited: the next wait returns at once. */
  private readonly pending = new Set<string>();
  private readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private listening: Promise<() => Promise<void>> | undefined;
  private refresher: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly db: Db) {}

  private ensureListening(): void {
    if (this.listening || this.closed) return;
    this.listening = this.db.listen(
      EVENTS_CHANNEL,
      (runId) => this.wake(runId),
      () => {
        for (const runId of this.watched.keys()) this.wake(runId);
      },
    );
    // A failed LISTEN leaves the waiters on their poll interval; try again on next wait.
    this.listening.catch(() => {
      this.listening = undefined;
    });
  }

  private wake(runId: string): void {
    const set = this.waiters.get(runId);
    if (!set) {
      if (this.watched.has(runId)) this.pending.add(runId);
      return;
    }
    this.waiters.delete(runId);
    for (const w of set) w();
  }

  /** Makes the run's events NOTIFY (while this process watches it). */
  async watch(runId: string): Promise<void> {
    this.ensureListening();
    const n = this.watched.get(runId) ?? 0;
    this.watched.set(runId, n + 1);
    if (n === 0) {
      await withDbRetry(() => this.db.query(WATCH_RUN, [runId, this.id, WATCH_TTL_MS]));
    }
    this.refresher ??= setInterval(() => void this.refresh(), WATCH_TTL_MS / 2).unref();
  }

  async unwatch(runId: string): Promise<void> {
    const n = (this.watched.get(runId) ?? 1) - 1;
    if (n > 0) {
      this.watched.set(runId, n);
      return;
    }
    this.watched.delete(runId);
    this.pending.delete(runId);
    if (this.closed) return;
    await this.db.query(UNWATCH_RUN, [runId, this.id]).catch(() => {});
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    await this.db
      .query(REFRESH_WATCHES, [this.id, [...this.watched.keys()], WATCH_TTL_MS])
      .catch(() => {});
  }

  /** Resolves on the next event of the run, after `timeoutMs`, or when `signal` fires. */
  wait(runId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.ensureListening();
    if (this.pending.delete(runId)) return Promise.resolve();
    return new Promise((resolve) => {
      if (signal?.aborted || this.closed) return resolve();
      let set = this.waiters.get(runId);
      if (!set) {
        set = new Set();
        this.waiters.set(runId, set);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        const s = this.waiters.get(runId);
        s?.delete(done);
        if (s?.size === 0) this.waiters.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }

  /** Wakes every waiter, forgets this process's watches and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refresher) clearInterval(this.refresher);
    for (const runId of [...this.waiters.keys()]) this.wake(runId);
    const runs = [...this.watched.keys()];
    this.watched.clear();
    await Promise.all(runs.map((r) => this.db.query(UNWATCH_RUN, [r, this.id]).catch(() => {})));
    const unlisten = await this.listening?.catch(() => undefined);
    await unlisten?.().catch(() => {});
  }
}
