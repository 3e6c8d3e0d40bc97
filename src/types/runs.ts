import type { SerializedError } from "./journal.js";
import type { WaitingFor } from "./waits.js";

/**
 * Naming at the data boundary: what goes over the wire as the API's JSON keeps the wire's
 * snake_case (`RunRow` is a row as the API returns it); everything code passes around is
 * camelCase, and the SQL names its columns so (`ClaimedRun`).
 */

/** A run as the API shows it. */
export interface RunRow {
  id: string;
  /** The project it belongs to (src/types/principal.ts). */
  project: string;
  agent: string;
  queue: string;
  status: string;
  input: unknown;
  output: unknown;
  error: SerializedError | null;
  progress: unknown;
  thread_id: string | null;
  priority: number;
  concurrency_key: string | null;
  tags: Record<string, string>;
  idempotency_key: string | null;
  attempt: number;
  max_attempts: number;
  available_at: Date;
  cancel_requested: boolean;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
  waiting_for: WaitingFor | null;
  parent_run_id: string | null;
  agent_version: string | null;
  /** The run's trace (migration 014, docs/tracing.md): null when it is not traced. */
  trace_id: string | null;
  span_id: string | null;
  parent_span_id: string | null;
}

/** A run as a worker receives it from a claim. */
export interface ClaimedRun {
  id: string;
  /** Its calls through the gateway are charged to this project, and its children belong to it. */
  project: string;
  agent: string;
  queue: string;
  input: unknown;
  /** The attempt this claim executes (1-based; attempts begun). */
  attempt: number;
  maxAttempts: number;
  /** Claims so far, this one included: more than one means there may be a journal. */
  claims: number;
  /** Fences every write of this claim: a write with an older token changes nothing. */
  leaseToken: string;
  cancelRequested: boolean;
  threadId: string | null;
  tags: Record<string, string>;
  /** How often the run was parked and woken: a park's fence against a stale wake-up. */
  wakeups: number;
  agentVersion: string | null;
  parentRunId: string | null;
  /** ctx.progress calls already published (replays skip them). */
  progressCalls: number;
  /** What the run waited for before this claim: deadlines stay fixed across replays. */
  priorWaitingFor: WaitingFor | null;
  /**
   * When the run was submitted, and first started (set by its first claim): for metrics.
   * A string (ISO) when the claim came back as JSON (claims made with a finish).
   */
  createdAt?: Date | string;
  startedAt?: Date | string | null;
  /** The run's trace, chosen at submit (migration 014); null when it is not traced. */
  traceId?: string | null;
  spanId?: string | null;
  parentSpanId?: string | null;
}

/** A run to insert. */
export interface NewRun {
  id: string;
  project: string;
  agent: string;
  queue: string;
  input: unknown;
  threadId?: string | undefined;
  priority?: number | undefined;
  concurrencyKey?: string | undefined;
  tags?: Record<string, string> | undefined;
  idempotencyKey?: string | undefined;
  maxAttempts: number;
  availableAt?: Date | undefined;
  parentRunId?: string | undefined;
  agentVersion?: string | undefined;
  /** The run's trace (src/tracing/traceparent.ts `runTraceFor`), when it is traced. */
  trace?: { traceId: string; spanId: string; parentSpanId: string | null } | undefined;
}

/**
 * The worker a claim is for: its id, and its agents' retry policies (parallel arrays),
 * which replace the policies the runs it claims were submitted with.
 */
export interface Claimant {
  id: string;
  agents: string[];
  maxAttempts: number[];
}
