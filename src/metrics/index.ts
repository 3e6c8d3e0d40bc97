/**
 * `GET /metrics`: Prometheus text format from prom-client, a registry per process part (not
 * prom-client's global one: tests start several systems in one process). The names are
 * listed in docs/metrics.md.
 */
import { Registry } from "prom-client";
import type { EngineObserver } from "../engine/observer.js";
import type { Db } from "../store/db.js";
import { engineHistograms } from "./runtime.js";
import { databaseMetrics } from "./scrape.js";

export interface Metrics {
  /** Hand to the worker: feeds the run, step and start-latency histograms. */
  observer: EngineObserver;
  contentType: string;
  /** Reads the database's figures, then renders every metric. */
  render(): Promise<string>;
}

export interface MetricsOptions {
  db: Db;
  /** Queues reported with depth 0 when they have no ready run. */
  queues?: readonly string[];
  /** Values kept per unbounded label (tenant, feature, rate-limit key); the rest are `other`. Default 20. */
  topN?: number;
}

/**
 * @example
 * const metrics = createMetrics({ db, queues: ["default"] });
 * const worker = new Worker({ db, agents, observer: metrics.observer });
 * const text = await metrics.render();
 */
export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  const observer = engineHistograms(registry);
  const refresh = databaseMetrics(registry, opts.db, {
    queues: opts.queues ?? [],
    topN: opts.topN ?? 20,
  });
  // Two scrapes at once share one refresh: each refresh is six queries.
  let pending: Promise<void> | undefined;
  return {
    observer,
    contentType: registry.contentType,
    async render() {
      pending ??= refresh().finally(() => {
        pending = undefined;
      });
      await pending;
      return registry.metrics();
    },
  };
}
