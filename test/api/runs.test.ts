import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { call, recordingLogger } from "./http.js";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each(BACKENDS)("runs API on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let app: OpenAPIHono;
  let log: ReturnType<typeof recordingLogger>;
  const workers: Worker[] = [];
  // The slow agent's step waits until the test opens this gate.
  let openGate: () => void = () => {};
  let gate: Promise<void>;

  const agents = [
    defineAgent({
      name: "echo",
      input: z.object({ n: z.number() }),
      run: async (ctx, input) => {
        const doubled = await ctx.step("double", () => input.n * 2);
        return { doubled };
      },
    }),
    defineAgent({
      name: "slow",
      run: async (ctx) => {
        await ctx.step("wait for the gate", () => gate);
        await ctx.step("after the gate", () => "done");
        return "finished";
      },
    }),
    defineAgent({
      name: "failing",
      retry: { maxAttempts: 1 },
      run: async () => {
        throw new Error("it broke");
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    log = recordingLogger();
    app = createApi({ service, log, version: "9.9.9" });
    gate = new Promise((resolve) => {
      openGate = resolve;
    });
  });

  afterEach(async () => {
    openGate();
    for (const w of workers.splice(0)) await w.stop(1_000);
    await service.stop();
    await close();
    expect(log.entries.filter((e) => e.level === "error")).toEqual([]);
  });

  async function startWorker(): Promise<void> {
    const w = new Worker({ db, agents, pollIntervalMs: 100 });
    workers.push(w);
    await w.start();
  }

  const submit = (json: unknown, query = "") => call(app, "POST", `/v1/runs${query}`, { json });

  it("submits a run (202) and reads it back as the run resource", async () => {
    const res = await submit({
      agent: "echo",
      input: { n: 2 },
      priority: 7,
      thread_id: "t-1",
      tags: { tenant: "acme" },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("idempotent-replayed")).toBeNull();
    expect(res.headers.get("location")).toBe(`/v1/runs/${res.body.id}`);
    expect(res.body).toMatchObject({
      agent: "echo",
      queue: "default",
      status: "queued",
      input: { n: 2 },
      output: null,
      error: null,
      thread_id: "t-1",
      priority: 7,
      tags: { tenant: "acme" },
      idempotency_key: null,
      attempts: 0,
      max_attempts: 3,
      cancel_requested: false,
      started_at: null,
      finished_at: null,
      duration_ms: null,
    });
    expect(Object.keys(res.body)).toEqual([
      "id",
      "project",
      "agent",
      "queue",
      "status",
      "input",
      "output",
      "error",
      "progress",
      "thread_id",
      "priority",
      "tags",
      "idempotency_key",
      "attempts",
      "max_attempts",
      "cancel_requested",
      "created_at",
      "available_at",
      "started_at",
      "finished_at",
      "updated_at",
      "duration_ms",
      "waiting_for",
      "parent_run_id",
      "agent_version",
      "trace_id",
    ]);
    for (const k of ["created_at", "available_at", "updated_at"]) expect(res.body[k]).toMatch(ISO);

    // Read back, the run says why it sits: no worker serves its queue in this test.
    const got = await call(app, "GET", `/v1/runs/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      ...res.body,
      waiting_for: expect.objectContaining({ kind: "no_worker", queue: "default" }),
    });
  });

  it("delays a run until run_at", async () => {
    const at = new Date(Date.now() + 60_000).toISOString();
    const res = await submit({ agent: "echo", input: { n: 1 }, run_at: at });
    expect(res.status).toBe(202);
    expect(res.body.available_at).toBe(at);
  });

  it("?wait= returns 200 with the finished run, and the steps journal", async () => {
    await startWorker();
    const res = await submit({ agent: "echo", input: { n: 21 } }, "?wait=10");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "succeeded", output: { doubled: 42 } });
    expect(res.body.started_at).toMatch(ISO);
    expect(res.body.finished_at).toMatch(ISO);
    expect(res.body.duration_ms).toBe(
      Date.parse(res.body.finished_at) - Date.parse(res.body.started_at),
    );

    const steps = await call(app, "GET", `/v1/runs/${res.body.id}/steps`);
    expect(steps.status).toBe(200);
    expect(steps.body.steps).toHaveLength(1);
    expect(steps.body.steps[0]).toMatchObject({
      seq: 1,
      name: "double",
      status: "succeeded",
      output: 42,
      error: null,
    });
    expect(steps.body.steps[0].started_at).toMatch(ISO);
    expect(steps.body.steps[0].finished_at).toMatch(ISO);
  });

  it("?wait= returns 202 with the current state when the run is still going", async () => {
    await startWorker();
    const started = Date.now();
    const res = await submit({ agent: "slow" }, "?wait=0.5");
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(["queued", "running"]).toContain(res.body.status);
    openGate();
    const { run } = await service.waitFor(res.body.id, 10_000);
    expect(run.status).toBe("succeeded");
    const done = await call(app, "GET", `/v1/runs/${res.body.id}`);
    expect(done.body).toMatchObject({ status: "succeeded", output: "finished" });
  });

  it("replays an idempotent submit with Idempotent-Replayed: true", async () => {
    const a = await submit({ agent: "echo", input: { n: 1 }, idempotency_key: "order-17" });
    const b = await submit({ agent: "echo", input: { n: 1 }, idempotency_key: "order-17" });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.headers.get("idempotent-replayed")).toBeNull();
    expect(b.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.id).toBe(a.body.id);
    expect(b.body.idempotency_key).toBe("order-17");

    const other = await submit({ agent: "slow", idempotency_key: "order-17" });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("OUTLAST_IDEMPOTENCY_CONFLICT");
    expect((await service.list({})).runs).toHaveLength(1);
  });

  it("pages through runs with next_cursor and filters them", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await submit({ agent: "echo", input: { n: i }, thread_id: i < 2 ? "t" : "u" });
      ids.push(r.body.id);
    }
    await submit({ agent: "slow" });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `?agent=echo&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await call(app, "GET", `/v1/runs${q}`);
      expect(page.status).toBe(200);
      expect(page.body.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.runs.map((r: { id: string }) => r.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse()); // newest first

    const thread = await call(app, "GET", "/v1/runs?thread_id=t");
    expect(thread.body.runs.map((r: { id: string }) => r.id)).toEqual([ids[1], ids[0]]);
    expect(thread.body.next_cursor).toBeNull();

    const all = await call(app, "GET", "/v1/runs");
    expect(all.body.runs).toHaveLength(6);

    await call(app, "POST", `/v1/runs/${ids[0]}/cancel`);
    const cancelled = await call(app, "GET", "/v1/runs?status=cancelled");
    expect(cancelled.body.runs.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
  });

  it("cancels a queued run at once and refuses a finished one (409)", async () => {
    const { body: run } = await submit({ agent: "echo", input: { n: 1 } });
    const res = await call(app, "POST", `/v1/runs/${run.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: run.id, status: "cancelled", cancel_requested: true });
    expect(res.body.finished_at).toMatch(ISO);

    const again = await call(app, "POST", `/v1/runs/${run.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("OUTLAST_RUN_FINISHED");
    expect(again.body.error.message).toContain("cancelled");
  });

  it("asks a running run to cancel; it ends cancelled at its next step", async () => {
    await startWorker();
    const { body: run } = await submit({ agent: "slow" });
    await expect
      .poll(async () => (await call(app, "GET", `/v1/runs/${run.id}`)).body.status)
      .toBe("running");
    const res = await call(app, "POST", `/v1/runs/${run.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "running", cancel_requested: true });
    openGate();
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("cancelled");
  });

  it("shows a failed run's error without its stack", async () => {
    await startWorker();
    const res = await call(app, "POST", "/v1/runs?wait=10", { json: { agent: "failing" } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("failed");
    expect(res.body.error).toMatchObject({ name: "Error", message: "it broke" });
    expect(res.body.error).not.toHaveProperty("stack");
    expect(JSON.stringify(res.body)).not.toContain(".ts:");
  });

  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await call(app, "GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.info).toMatchObject({ title: "Outlast API", version: "9.9.9" });
    expect(res.body.components.securitySchemes.bearer).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
    expect(Object.keys(res.body.paths).sort()).toEqual([
      "/healthz",
      "/readyz",
      "/v1/audit",
      "/v1/keys",
      "/v1/keys/{id}",
      "/v1/runs",
      "/v1/runs/{id}",
      "/v1/runs/{id}/cancel",
      "/v1/runs/{id}/events",
      "/v1/runs/{id}/resume",
      "/v1/runs/{id}/signals/{name}",
      "/v1/runs/{id}/steps",
      "/v1/threads",
      "/v1/threads/{id}",
      "/v1/threads/{id}/fork",
      "/v1/threads/{id}/history",
      "/v1/threads/{id}/messages",
      "/v1/threads/{id}/state",
      "/v1/webhooks",
      "/v1/webhooks/deliveries",
      "/v1/webhooks/deliveries/{id}",
      "/v1/webhooks/deliveries/{id}/redeliver",
      "/v1/webhooks/secret",
      "/v1/webhooks/{id}",
      "/v1/workers",
    ]);
    const post = res.body.paths["/v1/runs"].post;
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["200", "202", "400"]));
    expect(res.body.components.schemas.SubmitRun.properties.priority.anyOf).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: "integer", minimum: -1000, maximum: 1000 }),
        expect.objectContaining({ enum: ["interactive", "normal", "background"] }),
      ]),
    );
    expect(res.body.paths["/healthz"].get.security).toEqual([]);
  });

  it("serves Swagger UI from the package files, without a CDN", async () => {
    const page = await call(app, "GET", "/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.body).not.toMatch(/https?:\/\//);
    for (const src of page.body.match(/\/docs\/assets\/[\w.-]+/g) as string[]) {
      const asset = await app.request(src);
      expect(asset.status, src).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, src).toBeGreaterThan(100);
    }
  });

  it("answers health and readiness", async () => {
    expect(await call(app, "GET", "/healthz")).toMatchObject({
      status: 200,
      body: { status: "ok" },
    });
    expect(await call(app, "GET", "/readyz")).toMatchObject({
      status: 200,
      body: { status: "ready" },
    });
    const head = await app.request("/healthz", { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});
