/**
 * What the engine tells whoever measures it (src/metrics/runtime.ts), at points where it
 * already holds the timestamps: a claim, a recorded step, a finished run. Each call must be
 * as cheap as a histogram observe (they sit on the step and claim paths).
 */
export interface EngineObserver {
  /** A run's first claim: seconds from submission to its start (a delayed run's delay included). */
  runStarted(agent: string, queue: string, waitedSeconds: number): void;
  /** A step's body ran for `seconds` (replayed steps are not reported). */
  stepFinished(agent: string, kind: string, seconds: number): void;
  /** A run ended (succeeded, failed, cancelled) `seconds` after its first start. */
  runFinished(agent: string, queue: string, status: string, seconds: number): void;
}
