/**
 * A pull worker's mode.
 *
 * ```
 *   created ──start()──▶ running ──stop()──▶ draining ──▶ stopped
 * ```
 *
 * - `running`: claims while it has free slots.
 * - `draining`: claims nothing more; in-flight runs get the grace period, then the rest
 *   are aborted and given back to the queue for other workers.
 * - `stopped`: batches drained, listeners and heartbeat gone. Nothing leaves it.
 */
export type WorkerMode = "created" | "running" | "draining" | "stopped";

const NEXT: Readonly<Record<WorkerMode, WorkerMode | undefined>> = {
  created: "running",
  running: "draining",
  draining: "stopped",
  stopped: undefined,
};

/** The mode after `from`, asserting that `to` is it. */
export function advance(from: WorkerMode, to: WorkerMode): WorkerMode {
  if (NEXT[from] !== to) throw new Error(`worker cannot go from ${from} to ${to}`);
  return to;
}
