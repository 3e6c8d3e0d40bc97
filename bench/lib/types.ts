/**
 * What a system adapter (bench/systems/*.ts) can do. Each adapter runs in its own child
 * process (bench/lib/host.ts) and implements the operations of the workloads it takes
 * part in; every operation sets up what it needs (a fresh database, a fresh queue) and
 * tears it down before it returns, so rounds of different systems never overlap.
 */
import type { CpuSummary } from "./cpuprofile.js";

export interface ThroughputArgs {
  /** Jobs enqueued before the workers start. */
  jobs: number;
  concurrency: number;
  /** Stop counting after this long even if not every job finished (slow systems). */
  capMs: number;
  /** Profile this process's CPU over the measurement (adapters that support it). */
  profile?: boolean;
}
export interface ThroughputResult {
  done: number;
  seconds: number;
  perSec: number;
  /** Statements sent to PostgreSQL per finished job (PostgreSQL-backed systems). */
  statementsPerJob?: number;
  cpu?: CpuSummary;
}

export interface LatencyArgs {
  samples: number;
  /** Idle time between one job starting and the next being enqueued. */
  gapMs: number;
}
export interface LatencyResult {
  samplesMs: number[];
  /** Per probe, how long the enqueue call itself took (where the adapter reports it). */
  enqueueMs?: number[];
}

export interface StepsArgs {
  /** Durable steps per workflow. */
  steps: number;
  /** Workflows run in the round. */
  workflows: number;
  /** Clients each running workflows one after another (closed loop). */
  concurrency: number;
}
export interface StepsResult {
  msPerWorkflow: number;
  workflowsPerSec: number;
  /** Statements sent to PostgreSQL per workflow, client included (PostgreSQL-backed systems). */
  statementsPerWorkflow?: number;
}

export interface CheckpointArgs {
  nodes: number;
  invocations: number;
  /** false: the same logic without persistence (the baseline). */
  persist: boolean;
}
export interface CheckpointResult {
  msPerInvocation: number;
}

/** Kill test: a victim process takes a job and hangs in it; a rescuer should resume it. */
export interface KillArgs {
  /** Shared by victim and rescuer: a database URL or queue name made by the runner. */
  databaseUrl: string;
  queue: string;
}
export interface RescueArgs extends KillArgs {
  timeoutMs: number;
}
export interface RescueResult {
  /** Epoch ms when the job's handler began again in the rescuer; null: not within the time. */
  resumedAt: number | null;
}

export interface SystemAdapter {
  throughput?(a: ThroughputArgs): Promise<ThroughputResult>;
  latency?(a: LatencyArgs): Promise<LatencyResult>;
  steps?(a: StepsArgs): Promise<StepsResult>;
  checkpoint?(a: CheckpointArgs): Promise<CheckpointResult>;
  /** Starts a worker, enqueues one job, resolves once the job's handler runs (then hangs). */
  victim?(a: KillArgs): Promise<{ pid: number }>;
  /** Starts a worker on the same queue; resolves once it is ready. */
  rescuer?(a: KillArgs): Promise<{ ready: true }>;
  /** Waits for the rescuer to start the job the victim held. */
  rescued?(a: RescueArgs): Promise<RescueResult>;
  /** Releases anything the adapter keeps between operations (a server it started). */
  close?(): Promise<void>;
}

export type Op = Exclude<keyof SystemAdapter, "close">;

export type AdapterFactory = (options: Record<string, unknown>) => SystemAdapter;
