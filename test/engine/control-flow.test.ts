import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAgent } from "../../src/engine/agent.js";
import type { RunContext } from "../../src/engine/context.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker, type WorkerOptions } from "../../src/engine/worker.js";
import { TerminalError } from "../../src/errors.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)("durable control flow on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  const workers: Worker[] = [];
  const events: string[] = [];
  let fixed = false;

  const agents = [
    defineAgent({
      name: "napper",
      run: async (ctx, ms: number) => {
        const before = await ctx.step("before", () => Date.now());
        await ctx.sleep("nap", ms);
        const after = await ctx.step("after", () => Date.now());
        return { slept: after - before };
      },
    }),
    defineAgent({
      name: "approver",
      run: async (ctx) => {
        await ctx.step("prepare", () => events.push("prepare"));
        const decision = await ctx.waitForSignal<{ ok: boolean }>("approval");
        return { decision };
      },
    }),
    defineAgent({
      name: "impatient",
      run: async (ctx) => {
        try {
          return await ctx.waitForSignal("approval", { timeoutMs: 300 });
        } catch (err) {
          if ((err as { code?: string }).code === "OUTLAST_SIGNAL_TIMEOUT") return "timed out";
          throw err;
        }
      },
    }),
    defineAgent({
      name: "slow-step",
      run: async (ctx) => {
        await ctx.step("long", async ({ signal }) => {
          events.push("step started");
          await new Promise((resolve, reject) => {
            const t = setTimeout(resolve, 10_000);
            signal.addEventListener("abort", () => {
              clearTimeout(t);
              events.push("step aborted");
              reject(signal.reason);
            });
          });
        });
      },
    }),
    defineAgent({
      name: "step-timeout",
      retry: { maxAttempts: 1 },
      run: async (ctx) => ctx.step("slow", () => sleep(2_000), { timeoutMs: 100 }),
    }),
    defineAgent({
      name: "run-timeout",
      retry: { maxAttempts: 1 },
      timeoutMs: 200,
      run: async (ctx) => ctx.step("slow", () => sleep(2_000)),
    }),
    defineAgent({
      name: "square",
      input: z.object({ n: z.number() }),
      run: async (ctx, { n }) => {
        if (n < 0) throw new TerminalError("negative");
        await ctx.sleep("think", 50);
        return n * n;
      },
    }),
    defineAgent({
      name: "fan-out",
      run: async (ctx: RunContext, ns: number[]) => {
        const squares = await Promise.all(ns.map((n) => ctx.runAgent<number>("square", { n })));
        try {
          await ctx.runAgent("square", { n: -1 }, { name: "bad child" });
        } catch (err) {
          return { squares, childError: (err as { code?: string }).code };
        }
        return { squares };
      },
    }),
    defineAgent({
      name: "fixable",
      run: async (ctx) => {
        const a = await ctx.step("one", () => {
          events.push("one");
          return 1;
        });
        const b = await ctx.step("two", () => {
          events.push("two");
          if (!fixed) throw new TerminalError("bug in step two");
          return 2;
        });
        return a + b;
      },
    }),
    defineAgent({
      name: "keys",
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 },
      run: async (ctx) => {
        await ctx.step("charge", ({ idempotencyKey }) => {
          events.push(idempotencyKey);
          if (ctx.attempt === 1) throw new Error("network blip");
        });
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    events.length = 0;
    fixed = false;
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(500);
    await service.stop();
    await close();
  });

  async function startWorker(opts: Partial<WorkerOptions> = {}): Promise<Worker> {
    const w = new Worker({ db, agents, ...opts });
    workers.push(w);
    await w.start();
    return w;
  }

  it("sleeps without holding the worker and wakes on time", async () => {
    const worker = await startWorker();
    const { run } = await service.submit({ agent: "napper", input: 1_200 });
    await until(
      async () => (await service.get(run.id)).status === "waiting",
      10_000,
      "the run to park",
    );
    const parked = await service.get(run.id);
    expect(parked.waiting_for?.waits).toMatchObject([{ kind: "sleep", name: "nap" }]);
    expect(worker.activeRuns).toBe(0);
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("succeeded");
    const slept = (done.output as { slept: number }).slept;
    expect(slept).toBeGreaterThanOrEqual(1_200);
    // Woken at its due time by an idle worker: within a second on an idle machine (the
    // worker's poll is 1 s); the bound leaves room for a loaded one.
    expect(slept).toBeLessThan(1_200 + 4_000);
  });

  it("delivers a signal to a waiting run, and keeps one sent before the wait", async () => {
    // Sent before any worker exists, so before the run can reach its wait: kept until the
    // wait consumes it.
    const early = await service.submit({ agent: "approver" });
    await service.signal(early.run.id, "approval", { ok: false });
    expect((await service.get(early.run.id)).status).toBe("queued");
    await startWorker();
    const { run: done2 } = await service.waitFor(early.run.id, 10_000);
    expect(done2.output).toEqual({ decision: { ok: false } });
    expect(events).toEqual(["prepare"]);
    await expect(service.signal(early.run.id, "approval", {})).rejects.toMatchObject({
      status: 409,
    });

    const { run } = await service.submit({ agent: "approver" });
    await until(
      async () => (await service.get(run.id)).status === "waiting",
      10_000,
      "the run to wait",
    );
    expect((await service.get(run.id)).waiting_for?.signals).toEqual(["approval"]);
    await service.signal(run.id, "approval", { ok: true });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.output).toEqual({ decision: { ok: true } });
  });

  it("times out a signal wait with an error the agent can catch", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "impatient" });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.output).toBe("timed out");
  });

  it("cancels a waiting run at once, and a running run's in-flight step", async () => {
    await startWorker();
    const waiting = await service.submit({ agent: "approver" });
    await until(
      async () => (await service.get(waiting.run.id)).status === "waiting",
      10_000,
      "wait",
    );
    expect((await service.cancel(waiting.run.id)).status).toBe("cancelled");

    const running = await service.submit({ agent: "slow-step" });
    await until(() => events.includes("step started"), 10_000, "the 10 s step to start");
    const t0 = Date.now();
    await service.cancel(running.run.id);
    const { run: done } = await service.waitFor(running.run.id, 15_000);
    expect(done.status).toBe("cancelled");
    expect(events).toContain("step aborted");
    // Its signal fired at once: the step would have run for 10 s (the bound leaves room
    // for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("enforces step and run time budgets", async () => {
    await startWorker();
    const a = await service.submit({ agent: "step-timeout" });
    const b = await service.submit({ agent: "run-timeout" });
    const [ra, rb] = await Promise.all([
      service.waitFor(a.run.id, 10_000),
      service.waitFor(b.run.id, 10_000),
    ]);
    expect(ra.run.status).toBe("failed");
    expect(ra.run.error?.code).toBe("OUTLAST_TIMEOUT");
    expect(rb.run.status).toBe("failed");
    expect(rb.run.error?.code).toBe("OUTLAST_TIMEOUT");
  });

  it("runs child runs in parallel and surfaces a child's failure as a typed error", async () => {
    await startWorker({ concurrency: 5 });
    const { run } = await service.submit({ agent: "fan-out", input: [1, 2, 3, 4] });
    const { run: done } = await service.waitFor(run.id, 15_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toEqual({ squares: [1, 4, 9, 16], childError: "OUTLAST_CHILD_FAILED" });
    const children = (await service.list({ agent: "square" })).runs;
    expect(children).toHaveLength(5);
    expect(children.every((c) => c.parent_run_id === run.id)).toBe(true);
    // The four children were waited for together: their lifetimes overlap.
    const ok = children.filter((c) => c.status === "succeeded");
    const lastStart = Math.max(...ok.map((c) => c.started_at!.getTime()));
    const firstEnd = Math.min(...ok.map((c) => c.finished_at!.getTime()));
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it("resumes a failed run from its failed step after a fix", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "fixable" });
    const { run: failed } = await service.waitFor(run.id, 10_000);
    expect(failed.status).toBe("failed");
    expect(events).toEqual(["one", "two"]);
    fixed = true;
    expect((await service.resume(run.id)).status).toBe("queued");
    // Only a failed run can be resumed.
    await expect(service.resume(run.id)).rejects.toMatchObject({
      status: 409,
      code: "OUTLAST_RUN_NOT_FAILED",
    });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toBe(3);
    expect(events).toEqual(["one", "two", "two"]);
  });

  it("gives a step the same idempotency key on every attempt", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "keys" });
    const { run: done } = await service.waitFor(run.id, 10_000);
    expect(done.status).toBe("succeeded");
    expect(events).toEqual([`${run.id}:1`, `${run.id}:1`]);
  });

  it("refuses to replay a run journaled by another agent version unless declared compatible", async () => {
    const v = (version: string, compatibleVersions: string[] = []) =>
      defineAgent({
        name: "versioned",
        version,
        compatibleVersions,
        run: async (ctx) => {
          await ctx.step("first", () => 1);
          // Parked until the test lets it go: a short sleep could end before the test saw
          // both runs waiting, on a loaded machine.
          await ctx.waitForSignal("go");
          return ctx.step("second", () => version);
        },
      });
    const v1 = new RunService(db, [v("1")]);
    const a = await v1.submit({ agent: "versioned" });
    const b = await v1.submit({ agent: "versioned" });
    const w1 = await startWorker({ agents: [v("1")] });
    await until(
      async () =>
        (await Promise.all([a, b].map((x) => service.repo.getRun(x.run.id)))).every(
          (r) => r?.status === "waiting",
        ),
      10_000,
      "both runs to park on version 1",
    );
    await w1.stop(500);
    workers.splice(workers.indexOf(w1), 1);
    // Version 2 does not know version 1: the first run fails with a clear code.
    const w2 = await startWorker({ agents: [v("2")] });
    // The signal wakes both runs; it stays pending for the version that can replay them.
    for (const x of [a, b]) await service.signal(x.run.id, "go", null);
    for (const x of [a, b]) {
      await until(
        async () => (await service.repo.getRun(x.run.id))?.status === "failed",
        10_000,
        "the mismatch",
      );
      expect((await service.repo.getRun(x.run.id))?.error?.code).toBe("OUTLAST_VERSION_MISMATCH");
    }
    await w2.stop(500);
    workers.splice(workers.indexOf(w2), 1);
    // Version 3 declares version 1 compatible: it replays and finishes the run.
    await startWorker({ agents: [v("3", ["1"])] });
    for (const x of [a, b]) await service.resume(x.run.id);
    await until(
      async () =>
        (await Promise.all([a, b].map((x) => service.repo.getRun(x.run.id)))).every(
          (r) => r?.status === "succeeded",
        ),
      10_000,
      "version 3 to finish both runs",
    );
    expect((await service.repo.getRun(a.run.id))?.output).toBe("3");
  });
});
