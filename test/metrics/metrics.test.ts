import parse from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import { type RunningSystem, startSystem } from "../../src/system/start.js";
import { silentLogger } from "../../src/util/log.js";
import { agents } from "../fixtures/observability.config.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

/**
 * GET /metrics after a scripted workload: runs that succeed (with model calls), fail, wait
 * and stay queued, on a real PostgreSQL; parsed by a Prometheus text-format parser and
 * compared with what the API says.
 */
const KEY = "metrics-test-key-0123456789";
let system: RunningSystem;
let drop: () => Promise<void>;
let api: string;

const call = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${api}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
};
const json = async <T>(path: string, init?: RequestInit) =>
  (await (await call(path, init)).json()) as T;
const submit = (agent: string, tags: Record<string, string> = {}) =>
  json<{ id: string }>("/v1/runs", {
    method: "POST",
    body: JSON.stringify({ agent, input: {}, tags }),
  });
const countRuns = async (status: string) =>
  (await json<{ runs: unknown[] }>(`/v1/runs?status=${status}&limit=200`)).runs.length;

type Families = ReturnType<typeof parse>;
/**
 * The scrape, parsed. parse-prometheus-text-format (1.1.1) merges a labelled histogram's
 * series into one and drops their labels (it follows client_python 0.0.19), so histogram
 * families are parsed as untyped: each `_count` line is then a sample with its labels.
 */
async function scrape(): Promise<Families> {
  const text = await (await call("/metrics")).text();
  return parse(text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"));
}
/** Sum of a metric's samples whose labels include `where`. */
function total(fams: Families, name: string, where: Record<string, string> = {}): number {
  const found = fams.filter((f) => f.name === name);
  if (found.length === 0) throw new Error(`no metric ${name}`);
  return found
    .flatMap((f) => f.metrics)
    .filter((m) => Object.entries(where).every(([k, v]) => m.labels?.[k] === v))
    .reduce((s, m) => s + Number(m.value ?? 0), 0);
}
const labelValues = (fams: Families, name: string, label: string) =>
  new Set(fams.find((f) => f.name === name)?.metrics.map((m) => m.labels?.[label]));

beforeAll(async () => {
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  const config = resolveConfig(
    { agents, database: { url: fresh.url }, api: { apiKey: KEY }, metrics: { topN: 1 } },
    "metrics.test",
  );
  system = await startSystem({
    config,
    log: silentLogger,
    api: { port: 0, host: "127.0.0.1", apiKey: KEY },
    // The `held` queue is served by no worker: its runs stay queued.
    worker: { queues: ["default"], concurrency: 4 },
    simulator: true,
  });
  api = system.apiUrl ?? "";
  // tenant t1 makes 2 calls, t2 1: with topN 1, t2 is reported as `other`.
  await submit("chat", { tenant: "t1", feature: "f1" });
  await submit("chat", { tenant: "t1", feature: "f1" });
  await submit("chat", { tenant: "t2", feature: "f2" });
  await submit("boom");
  await submit("boom");
  await submit("waiter");
  await submit("held");
  await submit("held");
  await until(
    async () =>
      (await countRuns("succeeded")) === 3 &&
      (await countRuns("failed")) === 2 &&
      (await countRuns("waiting")) === 1,
    60_000,
    "the workload to settle",
  );
}, 120_000);

afterAll(async () => {
  await system?.stop(1_000);
  await drop?.();
});

describe("GET /metrics", () => {
  it("requires the API key", async () => {
    expect((await fetch(`${api}/metrics`)).status).toBe(401);
  });

  it("counts runs by status as GET /v1/runs does", async () => {
    const fams = await scrape();
    for (const status of ["succeeded", "failed", "waiting", "queued"]) {
      expect(total(fams, "outlast_runs", { status }), status).toBe(await countRuns(status));
    }
    expect(total(fams, "outlast_queue_depth", { queue: "held" })).toBe(await countRuns("queued"));
    expect(total(fams, "outlast_queue_depth", { queue: "default" })).toBe(0);
    expect(total(fams, "outlast_queue_oldest_ready_seconds", { queue: "held" })).toBeGreaterThan(0);
  });

  it("reports gateway requests, tokens and cost as GET /v1/usage does", async () => {
    const usage = await json<{ data: Record<string, number | string>[] }>(
      "/v1/usage?group_by=model",
    );
    const fams = await scrape();
    expect(usage.data.length).toBeGreaterThan(0);
    for (const row of usage.data) {
      const model = String(row.model);
      expect(total(fams, "outlast_gateway_requests_total", { model }), model).toBe(row.requests);
      expect(total(fams, "outlast_gateway_input_tokens_total", { model })).toBe(row.input_tokens);
      expect(total(fams, "outlast_gateway_output_tokens_total", { model })).toBe(row.output_tokens);
      expect(total(fams, "outlast_gateway_cost_usd_total", { model })).toBeCloseTo(
        Number(row.cost_usd),
        9,
      );
    }
    expect(total(fams, "outlast_gateway_requests_total")).toBe(3);
    // topN 1: t1 (2 calls) keeps its name, t2 becomes `other`.
    expect(labelValues(fams, "outlast_gateway_requests_total", "tenant")).toEqual(
      new Set(["t1", "other"]),
    );
    expect(total(fams, "outlast_gateway_requests_total", { tenant: "other" })).toBe(1);
    expect(total(fams, "outlast_gateway_requests_total", { feature: "f1" })).toBe(2);
  });

  it("observes run, step and start-latency histograms and reports workers", async () => {
    const fams = await scrape();
    const hist = (name: string, where: Record<string, string>) =>
      total(fams, `${name}_count`, where);
    expect(hist("outlast_run_duration_seconds", { agent: "chat", status: "succeeded" })).toBe(3);
    expect(hist("outlast_run_duration_seconds", { agent: "boom", status: "failed" })).toBe(2);
    expect(hist("outlast_step_duration_seconds", { agent: "boom" })).toBe(2);
    // chat 3, boom 2, waiter 1: every run the worker started, once each.
    expect(
      ["chat", "boom", "waiter"].map((agent) =>
        hist("outlast_run_start_latency_seconds", { agent }),
      ),
    ).toEqual([3, 2, 1]);
    expect(total(fams, "outlast_workers_live")).toBe(1);
    expect(total(fams, "outlast_worker_slots")).toBe(4);
    expect(total(fams, "outlast_db_pool_connections", { state: "total" })).toBeGreaterThan(0);
  });
});
