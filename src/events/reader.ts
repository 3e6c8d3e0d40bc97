import type { Db } from "../store/db.js";
import { withDbRetry } from "../store/retry.js";
import { LIST_EVENTS, STREAM_STATE } from "../store/sql/events.js";
import { isTerminalStatus } from "../types/index.js";
import type { EventBus } from "./bus.js";
import { type EventRow, type RunEvent, TERMINAL_EVENT_TYPES, toRunEvent } from "./types.js";

export interface FollowOptions {
  /** Start after this sequence number (0: from the first event). */
  after: number;
  /** Fallback poll when no NOTIFY arrives. Default 1000. */
  pollIntervalMs?: number;
  /** Events fetched per query. Default 200. */
  pageSize?: number;
  signal?: AbortSignal;
  /** Called while idle for this long, e.g. to write an SSE keep-alive. */
  idle?: { everyMs: number; fn: () => Promise<void> };
}

/** A page of a run's events after a sequence number. */
export async function listEvents(
  db: Db,
  runId: string,
  after: number,
  limit = 200,
): Promise<RunEvent[]> {
  const rows = await withDbRetry(() => db.query<EventRow>(LIST_EVENTS, [runId, after, limit]));
  return rows.map(toRunEvent);
}

/** True when the run is final and has no event after `after`: a stream from there is over. */
export async function isStreamOver(db: Db, runId: string, after: number): Promise<boolean> {
  const [row] = await withDbRetry(() =>
    db.query<{ status: string; last_seq: number }>(STREAM_STATE, [runId]),
  );
  return !row || (isTerminalStatus(row.status) && Number(row.last_seq) <= after);
}

/**
 * A run's events from `after` on, as they are written, until the run ends (its terminal
 * event was yielded) or the signal fires. Gap-free and in order: the triggers number a
 * run's events under a per-run lock held to commit, so reading `seq > last` never skips
 * one that commits later.
 *
 * @example
 * ```ts
 * for await (const ev of followEvents(db, bus, runId, { after: 0 })) console.log(ev.seq, ev.type);
 * ```
 */
export async function* followEvents(
  db: Db,
  bus: EventBus,
  runId: string,
  opts: FollowOptions,
): AsyncGenerator<RunEvent> {
  let after = opts.after;
  const pageSize = opts.pageSize ?? 200;
  const poll = opts.pollIntervalMs ?? 1_000;
  let lastWrite = Date.now();
  while (!opts.signal?.aborted) {
    const page = await listEvents(db, runId, after, pageSize);
    for (const ev of page) {
      if (opts.signal?.aborted) return;
      yield ev;
      after = ev.seq;
      lastWrite = Date.now();
    }
    if (page.length === pageSize) continue;
    const last = page.at(-1);
    if (last && TERMINAL_EVENT_TYPES.has(last.type)) return;
    if (!last && (await isStreamOver(db, runId, after))) return;
    const idle = opts.idle;
    const waitMs = idle
      ? Math.min(poll, Math.max(1, idle.everyMs - (Date.now() - lastWrite)))
      : poll;
    await bus.wait(runId, waitMs, opts.signal);
    if (idle && Date.now() - lastWrite >= idle.everyMs) {
      await idle.fn();
      lastWrite = Date.now();
    }
  }
}
