import { Histogram, type Registry } from "prom-client";
import type { EngineObserver } from "../engine/observer.js";

/**
 * The in-process histograms: observed by the engine where it already holds the timestamps
 * (src/engine/executor.ts), so they cost a histogram observe on the claim, step and finish
 * paths (a label lookup and a bucket increment, well under a microsecond). They describe
 * the runs this process executed: scrape every process that runs a worker.
 */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600];

export function engineHistograms(registry: Registry): EngineObserver {
  const runDuration = new Histogram({
    name: "outlast_run_duration_seconds",
    help: "Time from a run's first start to its end (succeeded, failed, cancelled), waits included.",
    labelNames: ["agent", "queue", "status"],
    buckets: SECONDS,
    registers: [registry],
  });
  const stepDuration = new Histogram({
    name: "outlast_step_duration_seconds",
    help: "Time a step's body ran (replayed steps are not counted).",
    labelNames: ["agent", "kind"],
    buckets: SECONDS,
    registers: [registry],
  });
  const startLatency = new Histogram({
    name: "outlast_run_start_latency_seconds",
    help: "Time from a run's submission to its first start (a delayed run's delay included).",
    labelNames: ["agent", "queue"],
    buckets: SECONDS,
    registers: [registry],
  });
  return {
    runStarted: (agent, queue, s) => startLatency.observe({ agent, queue }, s),
    stepFinished: (agent, kind, s) => stepDuration.observe({ agent, kind }, s),
    runFinished: (agent, queue, status, s) => runDuration.observe({ agent, queue, status }, s),
  };
}
