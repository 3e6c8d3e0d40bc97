import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { TerminalError } from "../../src/errors.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

// One behaviour suite for the engine, run on every backend.
describe.each(BACKENDS)("engine on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  const workers: Worker[] = [];
  let service: RunService;
  const executions: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const agents = [
    defineAgent({
      name: "echo",
      input: z.object({ n: z.number() }),
      run: async (ctx, input) => {
        const a = await ctx.step("double", () => input.n * 2);
        const b = await ctx.step("plus one", () => a + 1);
        return { a, b };
      },
    }),
    defineAgent({
      name: "flaky",
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
      run: async (ctx) => {
        const first = await ctx.step("first", () => {
          executions.push(`first:${ctx.runId}`);
          return 1;
        });
        const second = await ctx.step("second", () => {
          executions.push(`second:${ctx.runId}:${ctx.attempt}`);
          if (ctx.attempt < 3) throw new Error("transient");
          return 2;
        });
        return first + second;
      },
    }),
    defineAgent({
      name: "terminal",
      run: async (ctx) => {
        await ctx.step("boom", () => {
          executions.push(`boom:${ctx.runId}`);
          throw new TerminalError("no point retrying");
        });
      },
    }),
    defineAgent({
      name: "counted",
      run: async (ctx) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await ctx.step("work", () => new Promise((r) => setTimeout(r, 5)));
        } finally {
          inFlight--;
        }
        // Some runs park too (a parked run holds no slot; its frames are abandoned).
        if (ctx.runId.endsWith("0")) await ctx.sleep("short nap", 20);
      },
    }),
    defineAgent({
      name: "parallel",
      run: async (ctx) => {
        const delays = [30, 10, 20];
        const results = await Promise.all(
          delays.map((d, i) =>
            ctx.step(`p${i}`, () => new Promise((r) => setTimeout(() => r(i), d))),
          ),
        );
        return results;
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    executions.length = 0;
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(1_000);
    await service.stop();
    await close();
  });

  async function startWorker(
    opts: Partial<ConstructorParameters<typeof Worker>[0]> = {},
  ): Promise<Worker> {
    const w = new Worker({ db, agents, pollIntervalMs: 100, ...opts });
    workers.push(w);
    await w.start();
    return w;
  }

  it("runs an agent and journals its steps", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "echo", input: { n: 20 } });
    const { run: done, finished } = await service.waitFor(run.id, 10_000);
    expect(finished).toBe(true);
    expect(done.status).toBe("succeeded");
    expect(done.output).toEqual({ a: 40, b: 41 });
    const steps = await service.steps(run.id);
    expect(steps.map((s) => [s.seq, s.name, s.status, s.output])).toEqual([
      [1, "double", "succeeded", 40],
      [2, "plus one", "succeeded", 41],
    ]);
  });

  it("retries a failed attempt from the failed step, not from the top", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "flaky" });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toBe(3);
    // Two attempts failed, the third succeeded.
    expect(done.attempt).toBe(3);
    expect(executions.filter((e) => e.startsWith("first"))).toHaveLength(1);
    expect(executions.filter((e) => e.startsWith("second"))).toHaveLength(3);
  });

  it("fails at once on a TerminalError and records it", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "terminal" });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("failed");
    expect(done.error?.message).toBe("no point retrying");
    expect(done.attempt).toBe(1);
    expect(executions).toHaveLength(1);
  });

  it("journals concurrent steps by call order", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "parallel" });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.output).toEqual([0, 1, 2]);
    const steps = await service.steps(run.id);
    expect(steps.map((s) => s.name)).toEqual(["p0", "p1", "p2"]);
  });

  it("returns the same run for the same idempotency key", async () => {
    const a = await service.submit({ agent: "echo", input: { n: 1 }, idempotency_key: "k1" });
    const b = await service.submit({ agent: "echo", input: { n: 1 }, idempotency_key: "k1" });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.run.id).toBe(a.run.id);
  });

  it("rejects input that does not match the agent's schema", async () => {
    await expect(service.submit({ agent: "echo", input: { n: "x" } })).rejects.toMatchObject({
      code: "OUTLAST_INVALID_INPUT",
    });
    expect((await service.list({})).runs).toHaveLength(0);
  });

  it("cancels a queued run at once and refuses to cancel a finished one", async () => {
    const { run } = await service.submit({ agent: "echo", input: { n: 1 } });
    const cancelled = await service.cancel(run.id);
    expect(cancelled.status).toBe("cancelled");
    await expect(service.cancel(run.id)).rejects.toMatchObject({
      code: "OUTLAST_RUN_FINISHED",
    });
  });

  it("pages through runs with a cursor", async () => {
    for (let i = 0; i < 5; i++) await service.submit({ agent: "echo", input: { n: i } });
    const p1 = await service.list({ limit: 2 });
    const p2 = await service.list({ limit: 2, cursor: p1.next_cursor ?? undefined });
    const p3 = await service.list({ limit: 2, cursor: p2.next_cursor ?? undefined });
    const ids = [...p1.runs, ...p2.runs, ...p3.runs].map((r) => r.id);
    expect(new Set(ids).size).toBe(5);
    expect(p3.next_cursor).toBeNull();
  });

  it("honours priority and delayed start", async () => {
    const low = await service.submit({ agent: "echo", input: { n: 1 }, priority: 0 });
    const high = await service.submit({ agent: "echo", input: { n: 2 }, priority: 10 });
    const later = await service.submit({
      agent: "echo",
      input: { n: 3 },
      run_at: new Date(Date.now() + 600).toISOString(),
    });
    await startWorker({ concurrency: 1 });
    const [l, h, d] = await Promise.all([
      service.waitFor(low.run.id, 10_000),
      service.waitFor(high.run.id, 10_000),
      service.waitFor(later.run.id, 10_000),
    ]);
    expect(h.run.started_at!.getTime()).toBeLessThanOrEqual(l.run.started_at!.getTime());
    expect(d.run.started_at!.getTime()).toBeGreaterThanOrEqual(later.run.available_at.getTime());
  });

  it("never runs more agents at once than its concurrency, and frees every slot", async () => {
    const w = await startWorker({ concurrency: 3 });
    maxInFlight = 0;
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push((await service.submit({ agent: "counted" })).run.id);
    for (const id of ids) expect((await service.waitFor(id, 20_000)).run.status).toBe("succeeded");
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    // Every slot comes back (a finished run's slot is freed just after its result is written).
    await until(() => w.busySlots === 0, 5_000, "every slot to be free");
    expect(w.activeRuns).toBe(0);
  });

  it("runs interactive work before background work", async () => {
    const bg = await service.submit({ agent: "echo", input: { n: 1 }, priority: "background" });
    const normal = await service.submit({ agent: "echo", input: { n: 2 } });
    const fg = await service.submit({ agent: "echo", input: { n: 3 }, priority: "interactive" });
    expect([bg.run.priority, normal.run.priority, fg.run.priority]).toEqual([-100, 0, 100]);
    await startWorker({ concurrency: 1 });
    const done = await Promise.all([bg, normal, fg].map((r) => service.waitFor(r.run.id, 10_000)));
    const started = done.map((d) => d.run.started_at!.getTime());
    expect(started[2]).toBeLessThanOrEqual(started[1]!);
    expect(started[1]).toBeLessThanOrEqual(started[0]!);
  });
});
