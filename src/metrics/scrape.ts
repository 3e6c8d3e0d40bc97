import { Counter, Gauge, type Registry } from "prom-client";
import type { Db } from "../store/db.js";
import {
  METRICS_DELIVERIES,
  METRICS_LIMIT_WAITERS,
  METRICS_QUEUES,
  METRICS_RUNS,
  METRICS_USAGE,
  METRICS_WORKERS,
} from "../store/sql/metrics.js";
import { OTHER, sumBy, topValues } from "./cap.js";

type Row = Record<string, string | number | null>;

/**
 * The metrics read from the database at scrape time (src/store/sql/metrics.ts): they are
 * the deployment's, whichever process is scraped, and cost nothing between scrapes.
 * Returns the function that refreshes them, called before each render.
 */
export function databaseMetrics(
  registry: Registry,
  db: Db,
  opts: { queues: readonly string[]; topN: number },
): () => Promise<void> {
  const r = [registry];
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: r });
  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ["model", "feature", "tenant"], registers: r });
  const runs = gauge("outlast_runs", "Runs per queue and status.", ["queue", "status"]);
  const depth = gauge("outlast_queue_depth", "Runs ready to start now per queue.", ["queue"]);
  const oldest = gauge(
    "outlast_queue_oldest_ready_seconds",
    "Age of the oldest ready run per queue (0: none).",
    ["queue"],
  );
  const live = gauge("outlast_workers_live", "Workers with an unexpired registration.");
  const slots = gauge("outlast_worker_slots", "Run slots of the live workers.");
  const free = gauge("outlast_worker_slots_free", "Run slots of the live workers not in use.");
  const requests = new Counter({
    name: "outlast_gateway_requests_total",
    help: "Gateway calls by model, feature, tenant and outcome, from the usage rollups.",
    labelNames: ["model", "feature", "tenant", "outcome"],
    registers: r,
  });
  const input = counter("outlast_gateway_input_tokens_total", "Input tokens of gateway calls.");
  const output = counter("outlast_gateway_output_tokens_total", "Output tokens of gateway calls.");
  const cost = counter("outlast_gateway_cost_usd_total", "Cost of gateway calls in US dollars.");
  const deliveries = gauge(
    "outlast_webhook_deliveries",
    "Webhook and notifier deliveries by status.",
    ["status"],
  );
  const lag = gauge(
    "outlast_webhook_oldest_pending_seconds",
    "Age of the oldest pending delivery (0: none).",
  );
  const waiters = gauge("outlast_gateway_limit_waiters", "Callers waiting per rate-limit key.", [
    "key",
  ]);
  const pool = gauge(
    "outlast_db_pool_connections",
    "Database pool connections by state (PostgreSQL).",
    ["state"],
  );

  return async () => {
    const q = (sql: string) => db.query<Row>(sql);
    const [runRows, queueRows, [w], usage, deliveryRows, waiterRows] = await Promise.all([
      q(METRICS_RUNS),
      q(METRICS_QUEUES),
      q(METRICS_WORKERS),
      q(METRICS_USAGE),
      q(METRICS_DELIVERIES),
      q(METRICS_LIMIT_WAITERS),
    ]);
    runs.reset();
    for (const x of runRows) runs.set({ queue: str(x.queue), status: str(x.status) }, num(x.n));
    depth.reset();
    oldest.reset();
    for (const queue of opts.queues) {
      depth.set({ queue }, 0);
      oldest.set({ queue }, 0);
    }
    for (const x of queueRows) {
      depth.set({ queue: str(x.queue) }, num(x.depth));
      oldest.set({ queue: str(x.queue) }, Math.max(0, num(x.oldest_seconds)));
    }
    live.set(num(w?.live));
    slots.set(num(w?.slots));
    free.set(num(w?.free));

    // Tenants and features capped to the top N by calls, the rest summed as `other`.
    const tenants = topValues(
      usage,
      (x) => str(x.tenant),
      (x) => num(x.calls),
      opts.topN,
    );
    const features = topValues(
      usage,
      (x) => str(x.feature),
      (x) => num(x.calls),
      opts.topN,
    );
    const capped = sumBy(
      usage,
      (x) => ({
        model: str(x.model),
        feature: features.has(str(x.feature)) ? str(x.feature) : OTHER,
        tenant: tenants.has(str(x.tenant)) ? str(x.tenant) : OTHER,
        outcome: str(x.outcome),
      }),
      (x) => [num(x.calls), num(x.input_tokens), num(x.output_tokens), num(x.cost_usd)],
    );
    for (const c of [requests, input, output, cost]) c.reset();
    for (const { labels, values } of capped) {
      const [calls = 0, inTok = 0, outTok = 0, usd = 0] = values;
      requests.inc(labels, calls);
      const { outcome: _, ...byModel } = labels;
      input.inc(byModel, inTok);
      output.inc(byModel, outTok);
      cost.inc(byModel, usd);
    }

    deliveries.reset();
    lag.set(0);
    for (const x of deliveryRows) {
      deliveries.set({ status: str(x.status) }, num(x.n));
      if (x.status === "pending") lag.set(num(x.oldest_seconds));
    }
    waiters.reset();
    const keys = topValues(
      waiterRows,
      (x) => str(x.key),
      (x) => num(x.n),
      opts.topN,
    );
    for (const { labels, values } of sumBy(
      waiterRows,
      (x) => ({ key: keys.has(str(x.key)) ? str(x.key) : OTHER }),
      (x) => [num(x.n)],
    ))
      waiters.set(labels, values[0] ?? 0);
    const stats = db.poolStats?.();
    if (stats) {
      pool.set({ state: "total" }, stats.total);
      pool.set({ state: "idle" }, stats.idle);
      pool.set({ state: "waiting" }, stats.waiting);
    }
  };
}

function str(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

function num(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}
