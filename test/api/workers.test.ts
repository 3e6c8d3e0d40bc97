import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { formatWorkers } from "../../src/cli/commands/workers.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { createLogger } from "../../src/util/log.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { call, recordingLogger } from "./http.js";

/** The same database, with every statement sent through it recorded. */
function recording(db: Db): { db: Db; sql: string[] } {
  const sql: string[] = [];
  const wrapped: Db = Object.create(db);
  wrapped.query = (text, params) => {
    sql.push(text);
    return db.query(text, params);
  };
  return { db: wrapped, sql };
}

describe.each(BACKENDS)("GET /v1/workers on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let app: OpenAPIHono;
  const workers: Worker[] = [];
  let openGate: () => void = () => {};
  let gate: Promise<void>;
  let failures = 0;

  const agents = [
    defineAgent({
      name: "slow",
      run: async (ctx) => ctx.step("wait for the gate", () => gate.then(() => "done")),
    }),
    defineAgent({
      name: "flaky",
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 },
      run: async () => {
        failures++;
        throw new Error(`flake ${failures}`);
      },
    }),
    defineAgent({ name: "reports", queue: "reports", run: async () => 1 }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents, ["default", "reports"]);
    await service.start();
    app = createApi({ service, log: recordingLogger() });
    gate = new Promise((resolve) => {
      openGate = resolve;
    });
    failures = 0;
  });

  afterEach(async () => {
    openGate();
    for (const w of workers.splice(0)) await w.stop(1_000);
    await service.stop();
    await close();
  });

  async function startWorker(opts: Partial<ConstructorParameters<typeof Worker>[0]> = {}) {
    const w = new Worker({
      db,
      agents,
      queues: ["default"],
      concurrency: 3,
      pollIntervalMs: 100,
      heartbeatIntervalMs: 100,
      ...opts,
    });
    workers.push(w);
    await w.start();
    return w;
  }

  const get = async () => {
    const res = await call(app, "GET", "/v1/workers");
    expect(res.status).toBe(200);
    return res.body;
  };

  it("says when no worker serves a queue", async () => {
    expect(await get()).toEqual({
      workers: [],
      queues: [
        { name: "default", workers: 0, free_slots: 0 },
        { name: "reports", workers: 0, free_slots: 0 },
      ],
    });
    expect(formatWorkers(await get())).toContain("no live worker");
  });

  it("shows each live worker's queues, slots in use and free, and last heartbeat", async () => {
    const w = await startWorker();
    let body = await get();
    expect(body.workers).toEqual([
      {
        id: w.id,
        hostname: expect.any(String),
        pid: process.pid,
        queues: ["default"],
        concurrency: 3,
        slots: { in_use: 0, free: 3 },
        started_at: expect.any(String),
        last_heartbeat_at: expect.any(String),
        lease_expires_at: expect.any(String),
      },
    ]);
    expect(body.queues).toEqual([
      { name: "default", workers: 1, free_slots: 3 },
      { name: "reports", workers: 0, free_slots: 0 },
    ]);
    const text = formatWorkers(body);
    expect(text).toContain(w.id);
    expect(text).toContain('queue "reports": no live worker serves it');
    const firstBeat = Date.parse(body.workers[0].last_heartbeat_at);

    for (let i = 0; i < 2; i++) await call(app, "POST", "/v1/runs", { json: { agent: "slow" } });
    await until(
      async () => (await get()).workers[0]?.slots.in_use === 2,
      10_000,
      "the heartbeat to carry 2 slots in use",
    );
    body = await get();
    expect(body.workers[0].slots).toEqual({ in_use: 2, free: 1 });
    expect(body.queues[0]).toEqual({ name: "default", workers: 1, free_slots: 1 });
    expect(Date.parse(body.workers[0].last_heartbeat_at)).toBeGreaterThan(firstBeat);

    openGate();
    await until(
      async () => (await get()).workers[0]?.slots.in_use === 0,
      10_000,
      "the slots to free",
    );

    await w.stop(1_000);
    workers.length = 0;
    expect((await get()).workers).toEqual([]);
  });

  it("the slots ride on the heartbeat: no statement of their own", async () => {
    // Heartbeats far apart: taking slots must not write the registry by itself.
    const rec = recording(db);
    const w = await startWorker({ db: rec.db, heartbeatIntervalMs: 60_000 });
    const writes = () => rec.sql.filter((s) => /(UPDATE|INSERT INTO)\s+outlast\.workers/.test(s));
    const atStart = writes().length;
    for (let i = 0; i < 2; i++) await call(app, "POST", "/v1/runs", { json: { agent: "slow" } });
    await until(() => w.busySlots === 2, 10_000, "two slots taken");
    await new Promise((r) => setTimeout(r, 300));
    expect(writes().length).toBe(atStart);
    expect((await get()).workers[0].slots.in_use).toBe(0); // not heartbeaten since

    // Heartbeats every 100 ms: each write of the registry is a lease renewal that carries them.
    await w.stop(1_000);
    workers.length = 0;
    openGate();
    const rec2 = recording(db);
    await startWorker({ db: rec2.db });
    await new Promise((r) => setTimeout(r, 700));
    const beats = rec2.sql.filter((s) => /UPDATE\s+outlast\.workers/.test(s));
    expect(beats.length).toBeGreaterThanOrEqual(3);
    for (const s of beats) {
      expect(s).toMatch(/expires_at\s*=/);
      expect(s).toMatch(/slots_in_use\s*=/);
    }
  });

  it("is in the OpenAPI document and behind the API key like every /v1 route", async () => {
    const doc = await call(app, "GET", "/openapi.json");
    expect(doc.body.paths["/v1/workers"].get.summary).toMatch(/workers/i);
    const keyed = createApi({ service, apiKey: "k".repeat(20), log: recordingLogger() });
    expect((await call(keyed, "GET", "/v1/workers")).status).toBe(401);
    const ok = await call(keyed, "GET", "/v1/workers", {
      headers: { authorization: `Bearer ${"k".repeat(20)}` },
    });
    expect(ok.status).toBe(200);
    expect((await call(app, "GET", "/v1/workers?verbose=1")).status).toBe(400);
  });

  it("logs each run's failed attempt, its retry and its failure at info", async () => {
    const lines: string[] = [];
    await startWorker({ log: createLogger({ level: "info", write: (l) => lines.push(l) }) });
    const { body: run } = await call(app, "POST", "/v1/runs", { json: { agent: "flaky" } });
    await until(
      async () => (await service.get(run.id)).status === "failed",
      10_000,
      "the run to fail",
    );
    await until(() => lines.some((l) => l.includes("run failed")), 5_000, "the failure's log line");
    const retry = lines.filter((l) => l.includes("the run will retry"));
    const failed = lines.filter((l) => l.includes("run failed"));
    expect(retry).toHaveLength(1);
    expect(failed).toHaveLength(1);
    for (const l of [...retry, ...failed]) {
      expect(l).toMatch(/info/);
      expect(l).toContain(run.id);
    }
    expect(retry[0]).toContain("flake 1");
    expect(failed[0]).toContain("flake 2");
  });
});
