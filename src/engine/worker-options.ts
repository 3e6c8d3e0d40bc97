import type { LlmClient } from "../llm/types.js";
import type { Admission } from "../quota/admission.js";
import type { Fairness } from "../quota/fairness.js";
import type { Db } from "../store/db.js";
import type { Tracing } from "../tracing/types.js";
import type { ClaimedRun } from "../types/index.js";
import type { Logger } from "../util/log.js";
import type { AnyAgent } from "./agent.js";
import type { EngineObserver } from "./observer.js";

/** What a pull worker (src/engine/worker.ts) is built from. */
export interface WorkerOptions {
  db: Db;
  agents: readonly AnyAgent[];
  /** Queues this worker serves. Default: every queue of its agents. */
  queues?: readonly string[];
  /** Global caps per queue (all workers together). */
  queueLimits?: Readonly<Record<string, number>>;
  /** Runs this worker executes at once. Default 10. */
  concurrency?: number;
  llm?: LlmClient;
  log?: Logger;
  /** Told of starts, steps and finishes (the metrics' histograms). */
  observer?: EngineObserver | undefined;
  /** Spans of runs, attempts, steps and their model calls (src/tracing). Default: none. */
  tracing?: Tracing | undefined;
  /** Fallback poll when no NOTIFY arrives (delayed runs, missed notifications). Default 1000. */
  pollIntervalMs?: number;
  /** Default 2000. */
  heartbeatIntervalMs?: number;
  /** A worker that has not renewed for this long is dead to its peers. Default 15000. */
  leaseTtlMs?: number;
  /** How often this worker looks for dead peers. Default 500. */
  reapIntervalMs?: number;
  id?: string;
  /** Quota-aware admission: asked before a run's first step (see src/quota/admission.ts). */
  admission?: (agent: AnyAgent, run: ClaimedRun) => Promise<Admission>;
  /** Weighted fairness between tenants in claims (src/quota/fairness.ts). Default: off. */
  fairness?: Fairness | undefined;
}
