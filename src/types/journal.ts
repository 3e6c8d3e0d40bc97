/** What the journal and the API store of an error. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  retryable?: boolean;
  stack?: string;
  /** What an error class needs to be rebuilt on replay (a child run's id, a signal's name). */
  data?: Record<string, unknown>;
}

/** A journaled step as replay reads it. */
export interface JournalEntry {
  seq: number;
  name: string;
  kind: string;
  status: "succeeded" | "failed";
  output: unknown;
  error: SerializedError | null;
}

/** A finished step on its way to the journal. */
export interface StepRecord {
  seq: number;
  name: string;
  kind: string;
  status: "succeeded" | "failed";
  /** JSON text of the result; undefined when the step returned undefined. */
  outputJson: string | undefined;
  error: SerializedError | undefined;
  startedAt: Date;
  finishedAt: Date;
}

/** A step whose body just started. */
export interface StartedStep {
  seq: number;
  name: string;
  kind: string;
  startedAt: Date;
}
