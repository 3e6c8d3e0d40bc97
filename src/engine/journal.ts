import type { SerializedError } from "../errors.js";

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
