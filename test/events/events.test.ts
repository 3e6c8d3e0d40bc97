import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { type EventRoutes, registerEventRoutes } from "../../src/api/routes/events.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { parseSse } from "../../src/events/sse-parse.js";
import type { RunEvent } from "../../src/events/types.js";
import type { Db } from "../../src/store/db.js";
import { PostgresDb } from "../../src/store/postgres.js";
import { Repo } from "../../src/store/repo.js";
import { JOURNAL_STEPS } from "../../src/store/sql/steps.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function eventsOf(
  db: Db,
  runId: string,
): Promise<{ seq: number; type: string; data: Record<string, unknown> }[]> {
  return db.query("SELECT seq, type, data FROM outlast.events WHERE run_id = $1 ORDER BY seq", [
    runId,
  ]);
}

describe.each(BACKENDS)("run events on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  const workers: Worker[] = [];
  let attempts = 0;
  let slowStarted = false;
  let release = gate();

  const agents = [
    defineAgent({
      name: "two-steps",
      run: async (ctx) => {
        const a = await ctx.step("one", () => 1);
        await ctx.progress({ half: true });
        const b = await ctx.step("two", () => 2);
        return { total: a + b };
      },
    }),
    defineAgent({
      name: "flaky",
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 },
      run: async (ctx) => {
        await ctx.step("ok", () => "fine");
        await ctx.step("flaky", () => {
          attempts++;
          if (ctx.attempt < 2) throw new Error("transient trouble");
          return 1;
        });
      },
    }),
    defineAgent({
      name: "slow-step",
      run: async (ctx) =>
        ctx.step("slow", async () => {
          slowStarted = true;
          await release.promise;
          return "done";
        }),
    }),
    defineAgent({
      name: "waits",
      run: async (ctx) => ctx.waitForSignal("go"),
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    attempts = 0;
    slowStarted = false;
    release = gate();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(1_000);
    await service.stop();
    await close();
  });

  async function startWorker(): Promise<void> {
    const w = new Worker({ db, agents, pollIntervalMs: 100 });
    workers.push(w);
    await w.start();
  }

  it("writes every status change, step and progress of a run, numbered from 1", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "two-steps" });
    await service.waitFor(run.id, 10_000);
    const events = await eventsOf(db, run.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual([
      "run.queued",
      "run.running",
      "step.started",
      "step.finished",
      "run.progress",
      "step.started",
      "step.finished",
      "run.succeeded",
    ]);
    expect(events[2]!.data).toMatchObject({ seq: 1, name: "one", kind: "step", attempt: 1 });
    expect(events[2]!.data).not.toHaveProperty("status");
    expect(events[3]!.data).toMatchObject({
      seq: 1,
      name: "one",
      kind: "step",
      status: "succeeded",
    });
    expect(events[4]!.data).toEqual({ progress: { half: true } });
    expect(events[7]!.data).toMatchObject({
      status: "succeeded",
      previous_status: "running",
      agent: "two-steps",
      output: { total: 3 },
    });
  });

  it("writes a long step's start while its body still runs, and its row says running", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "slow-step" });
    for (let i = 0; i < 400 && !slowStarted; i++) await new Promise((r) => setTimeout(r, 10));
    expect(slowStarted).toBe(true);
    // Written within the lazy delay (20 ms) plus a flush, long before the step ends.
    let types: string[] = [];
    for (let i = 0; i < 200 && !types.includes("step.started"); i++) {
      await new Promise((r) => setTimeout(r, 10));
      types = (await eventsOf(db, run.id)).map((e) => e.type);
    }
    expect(types).toEqual(["run.queued", "run.running", "step.started"]);
    expect((await service.steps(run.id)).map((s) => [s.name, s.status])).toEqual([
      ["slow", "running"],
    ]);
    release.resolve();
    await service.waitFor(run.id, 10_000);
    const events = await eventsOf(db, run.id);
    expect(events.map((e) => e.type)).toEqual([
      "run.queued",
      "run.running",
      "step.started",
      "step.finished",
      "run.succeeded",
    ]);
    expect(events[3]!.data).toMatchObject({ name: "slow", status: "succeeded" });
    expect((await service.steps(run.id)).map((s) => [s.name, s.status])).toEqual([
      ["slow", "succeeded"],
    ]);
  });

  it("records a retry as run.queued with the error (no stack), then the next attempt", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "flaky" });
    await service.waitFor(run.id, 10_000);
    const events = await eventsOf(db, run.id);
    // The failed attempt's step started and never finished; the retry executes it again.
    expect(events.map((e) => e.type)).toEqual([
      "run.queued",
      "run.running",
      "step.started",
      "step.finished",
      "step.started",
      "run.queued",
      "run.running",
      "step.started",
      "step.finished",
      "run.succeeded",
    ]);
    expect(events[4]!.data).toMatchObject({ seq: 2, name: "flaky", attempt: 1 });
    expect(events[7]!.data).toMatchObject({ seq: 2, name: "flaky", attempt: 2 });
    const retry = events[5]!.data as { error: Record<string, unknown>; attempt: number };
    expect(retry.error.message).toBe("transient trouble");
    expect(retry.error).not.toHaveProperty("stack");
    expect(retry.attempt).toBe(1);
    expect(attempts).toBe(2);
  });

  it("records waiting, cancellation and no event for a change that did not happen", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "waits" });
    for (let i = 0; i < 200 && (await service.get(run.id)).status !== "waiting"; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await service.signal(run.id, "go", 1).catch(() => {});
    await service.waitFor(run.id, 10_000);
    // Not yet due, so no worker takes it: cancelled at once; a second cancel changes nothing.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const { run: second } = await service.submit({ agent: "waits", run_at: later });
    await service.cancel(second.id);
    await expect(service.cancel(second.id)).rejects.toThrow(/already finished/);
    expect((await eventsOf(db, second.id)).map((e) => e.type)).toEqual([
      "run.queued",
      "run.cancelled",
    ]);
    const first = (await eventsOf(db, run.id)).map((e) => e.type);
    expect(first).toContain("run.waiting");
    expect(first.at(-1)).toBe("run.succeeded");
  });

  it("streams over SSE without a socket (app.request) and ends after the final event", async () => {
    const app = createApi({ service });
    const routes: EventRoutes = registerEventRoutes(app, { service, pollIntervalMs: 200 });
    try {
      await startWorker();
      const { run } = await service.submit({ agent: "two-steps" });
      const res = await app.request(`/v1/runs/${run.id}/events`, {
        headers: { accept: "text/event-stream" },
      });
      expect(res.status).toBe(200);
      const got: RunEvent[] = [];
      for await (const m of parseSse(res.body!)) got.push(JSON.parse(m.data));
      expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const missing = await app.request(`/v1/runs/${randomUUID()}/events`);
      expect(missing.status).toBe(404);
    } finally {
      await routes.close();
    }
  });
});

// PostgreSQL only: PGlite has one connection, so its writers never run concurrently.
describe("run events on postgres under concurrent writers", () => {
  it("numbers events without gaps or duplicates, each step's start before its end", async () => {
    const { db, url, close } = await openTestDb("postgres");
    const pool = new PostgresDb({ connectionString: url!, max: 12 });
    try {
      const repo = new Repo(db);
      const id = randomUUID();
      await repo.insertRuns([
        {
          id,
          project: "default",
          agent: "two-steps",
          queue: "default",
          input: null,
          maxAttempts: 1,
        },
      ]);
      const token = randomUUID();
      await db.query("UPDATE outlast.runs SET status = 'running', lease_token = $2 WHERE id = $1", [
        id,
        token,
      ]);
      const now = new Date();
      const writes: Promise<unknown>[] = [];
      for (let i = 1; i <= 150; i++) {
        writes.push(
          pool.query(JOURNAL_STEPS, [
            [id],
            [i],
            [`s${i}`],
            ["step"],
            ["succeeded"],
            [String(i)],
            [null],
            [1],
            [token],
            [now],
            [now],
          ]),
        );
        writes.push(
          pool.query("UPDATE outlast.runs SET progress = $2::jsonb WHERE id = $1", [
            id,
            JSON.stringify({ i }),
          ]),
        );
      }
      await Promise.all(writes);
      const events = await eventsOf(db, id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === "step.finished")).toHaveLength(150);
      expect(events.filter((e) => e.type === "step.started")).toHaveLength(150);
      const at = new Map(events.map((e) => [`${e.type} ${e.data.seq}`, e.seq]));
      for (let i = 1; i <= 150; i++) {
        expect(at.get(`step.started ${i}`)).toBeLessThan(at.get(`step.finished ${i}`)!);
      }
      expect(events.filter((e) => e.type === "run.progress").length).toBeGreaterThan(100);
    } finally {
      await pool.close();
      await close();
    }
  });
});
