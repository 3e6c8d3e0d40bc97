/**
 * Run events: what happened to a run, in order. Written by database triggers in the same
 * transaction as the change they describe (migrations/004_events.sql, 006_step_started.sql); numbered per run
 * from 1 without gaps.
 */
export const RUN_EVENT_TYPES = [
  "run.queued",
  "run.running",
  "run.waiting",
  "run.throttled",
  "run.succeeded",
  "run.failed",
  "run.cancelled",
  "run.cancel_requested",
  "run.progress",
  "step.started",
  "step.finished",
] as const;

export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/**
 * An event filter of a subscription or notifier: an exact type, a family (`run.*`,
 * `step.*`) or `*`.
 */
export const EVENT_FILTER_RE = new RegExp(
  `^(\\*|run\\.\\*|step\\.\\*|${RUN_EVENT_TYPES.map((t) => t.replace(".", "\\.")).join("|")})$`,
);

/** The events after which a run changes no more (unless a failed run is resumed). */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  "run.succeeded",
  "run.failed",
  "run.cancelled",
]);

/** What a per-run webhook or a notifier receives when it names no events: the end. */
export const DEFAULT_NOTIFY_EVENTS = ["run.succeeded", "run.failed", "run.cancelled"];

/** A run event as the API, SSE and webhooks show it. */
export interface RunEvent {
  run_id: string;
  seq: number;
  type: string;
  /** ISO time of the transaction that wrote it. */
  at: string;
  data: Record<string, unknown>;
}

/** A row of outlast.events as the store returns it. */
export interface EventRow {
  run_id: string;
  seq: number;
  type: string;
  at: Date | string;
  data: Record<string, unknown>;
}

export function toRunEvent(row: EventRow): RunEvent {
  return {
    run_id: row.run_id,
    seq: Number(row.seq),
    type: row.type,
    at: row.at instanceof Date ? row.at.toISOString() : new Date(row.at).toISOString(),
    data: row.data ?? {},
  };
}

/**
 * An event filter: an exact type, a family (`run.*`, `step.*`) or everything (`*`).
 * Mirrors outlast.event_matches in SQL.
 */
export function isEventPattern(p: string): boolean {
  return (
    p === "*" ||
    p === "run.*" ||
    p === "step.*" ||
    (RUN_EVENT_TYPES as readonly string[]).includes(p)
  );
}

export function eventMatches(patterns: readonly string[], type: string): boolean {
  return (
    patterns.includes(type) ||
    patterns.includes("*") ||
    patterns.includes(`${type.split(".")[0]}.*`)
  );
}
