/**
 * Threads (issue 22): a session keyed by thread id within a project, that owns a
 * transcript, a state document and versions, and runs one run at a time.
 */

/** LangGraph's double-texting names: what a run submitted on a busy thread does. */
export const MULTITASK_STRATEGIES = ["enqueue", "reject", "interrupt", "rollback"] as const;
export type MultitaskStrategy = (typeof MULTITASK_STRATEGIES)[number];

/** A thread as the API shows it. */
export interface ThreadRow {
  id: string;
  metadata: Record<string, unknown>;
  /** `busy` while a run holds the thread. */
  status: "idle" | "busy";
  active_run_id: string | null;
  version: number;
  message_count: number;
  forked_from: { thread_id: string; version: number } | null;
  created_at: Date;
  updated_at: Date;
}

/** One message of a transcript (OpenAI-shaped JSON) at its position. */
export interface ThreadMessage {
  seq: number;
  /** The version that added it. */
  version: number;
  message: Record<string, unknown>;
}

/** A thread version: what one write made, and the run that made it. */
export interface ThreadVersionRow {
  version: number;
  /** append | state | fork */
  kind: string;
  run_id: string | null;
  message_count: number;
  state_changed: boolean;
  created_at: Date;
}
