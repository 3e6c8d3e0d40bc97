/** One blocked ctx call of a parked run. */
export interface Wait {
  seq: number;
  kind: "sleep" | "signal" | "child";
  name: string;
  /** ISO time the wait ends by itself (a sleep's wake time, a signal's deadline). */
  until?: string;
  childId?: string;
}

/** Why a held run is not running (src/engine/waiting-for.ts documents each kind). */
export const WAIT_KINDS = [
  "sleep",
  "signal",
  "child",
  "provider_limit",
  "cap",
  "budget",
  "thread",
  "no_worker",
  "retry",
  "scheduled",
] as const;
export type WaitKind = (typeof WAIT_KINDS)[number];

/** Why a run is not running (runs.waiting_for); built by src/engine/waiting-for.ts. */
export interface WaitingFor {
  kind: WaitKind;
  /** A sentence for people. */
  reason: string;
  /** A parked run's blocked ctx calls (empty for other kinds). */
  waits: Wait[];
  /** Signal names that wake the run. */
  signals: string[];
  /** When the earliest timed wait ends; null when only an event can wake the run. */
  until: string | null;
  /** A throttled run: the limit that holds it (`provider/model dimension`) … */
  limit?: string;
  /** … and when it expects to go on. */
  eta?: string;
  /** `no_worker`: the queue no live worker serves. */
  queue?: string;
  /** `thread`: the thread the run is queued behind (one run at a time, in submit order). */
  thread_id?: string;
}
