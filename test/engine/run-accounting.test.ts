/**
 * What a run tells about itself: its attempts (an attempt is one execution begun after n
 * errored attempts), its progress (published once per ctx.progress call, replays or not),
 * and `waiting_for {kind, reason}` whenever it is held — on PGlite and PostgreSQL.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AnyAgent, defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker, type WorkerOptions } from "../../src/engine/worker.js";
import { RateLimitedError, RetryableError } from "../../src/errors.js";
import type { Db } from "../../src/store/db.js";
import type { RunRow } from "../../src/types/index.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

const executions: string[] = [];
const calls = new Map<string, number>();
/** How many times `key` was reached, counting this time: a run's own memory across attempts. */
const nth = (key: string) => {
  const n = (calls.get(key) ?? 0) + 1;
  calls.set(key, n);
  return n;
};

const agents: AnyAgent[] = [
  defineAgent({ name: "once", run: async (ctx) => ctx.step("only", () => 1) }),
  defineAgent({
    name: "doomed",
    retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    run: async (ctx) => {
      executions.push(`doomed:${ctx.attempt}`);
      await ctx.step("boom", () => {
        throw new Error("always fails");
      });
    },
  }),
  defineAgent({
    name: "patient",
    run: async (ctx) => {
      await ctx.step("first", () => 1);
      await ctx.sleep("nap", 50);
      await ctx.step("throttled once", () => {
        if (nth(`throttle:${ctx.runId}`) === 1)
          throw new RateLimitedError("slow down", { retryAfterMs: 50, limit: "sim/m rpm" });
        return 2;
      });
      return ctx.attempt;
    },
  }),
  defineAgent({
    name: "reporter",
    run: async (ctx) => {
      await ctx.progress({ n: 1 });
      await ctx.step("a", () => "a");
      await ctx.progress({ n: 2 });
      await ctx.sleep("nap", 50);
      await ctx.progress({ n: 3 });
      await ctx.waitForSignal("go");
      await ctx.progress({ n: 4 });
      await ctx.step("b", () => {
        if (nth(`reporter:${ctx.runId}`) === 1)
          throw new RetryableError("once more", { retryAfterMs: 10 });
        return "b";
      });
      await ctx.progress({ n: 5 });
      return "done";
    },
  }),
  defineAgent({
    name: "held",
    run: async (ctx, how: string) => {
      if (how === "provider" && nth(`held:${ctx.runId}`) === 1)
        throw new RateLimitedError("the provider said 429", {
          retryAfterMs: 60_000,
          limit: "sim/gpt-4o-mini tpm",
        });
      if (how === "cap" && nth(`held:${ctx.runId}`) === 1)
        throw new RateLimitedError("over the cap", {
          retryAfterMs: 60_000,
          limit: 'tenant "acme" rpm',
        });
      if (how.startsWith("retry") && nth(`held:${ctx.runId}`) === 1)
        throw new RetryableError("upstream hiccup", { retryAfterMs: 60_000 });
      if (how === "retry, then wait") await ctx.waitForSignal("approval");
      if (how === "slow")
        await ctx.step(
          "slow",
          ({ signal }) =>
            new Promise((_, reject) => {
              const t = setTimeout(() => reject(new Error("not cancelled in time")), 10_000);
              signal.addEventListener("abort", () => {
                clearTimeout(t);
                reject(signal.reason);
              });
            }),
        );
      if (how === "sleep") await ctx.sleep("cool down", 60_000);
      if (how === "signal") await ctx.waitForSignal("approval");
      if (how === "child") await ctx.runAgent("held", "signal");
      return how;
    },
  }),
  defineAgent({
    name: "listener",
    run: async (ctx) => {
      // Each step listens on its signal and never lets go, as plenty of libraries do.
      for (let i = 0; i < 15; i++) {
        await ctx.step(`s${i}`, ({ signal }) => {
          signal.addEventListener("abort", () => {});
          return i;
        });
      }
      return "ok";
    },
  }),
];

describe.each(BACKENDS)("run accounting on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  const workers: Worker[] = [];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    executions.length = 0;
    calls.clear();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(1_000);
    await service.stop();
    await close();
  });

  async function startWorker(opts: Partial<WorkerOptions> = {}): Promise<Worker> {
    const w = new Worker({ db, agents, pollIntervalMs: 50, ...opts });
    workers.push(w);
    await w.start();
    return w;
  }

  async function finish(id: string): Promise<RunRow> {
    const { run, finished } = await service.waitFor(id, 15_000);
    expect(finished, `run ${id} to finish (it is ${run.status})`).toBe(true);
    return run;
  }

  async function events(runId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
    return db.query("SELECT type, data FROM outlast.events WHERE run_id = $1 ORDER BY seq", [
      runId,
    ]);
  }

  /** The run once a worker has started it and it is in `status`. */
  async function statusOf(id: string, status: string): Promise<RunRow> {
    let run: RunRow | undefined;
    await until(
      async () => {
        run = await service.get(id);
        return run.started_at !== null && run.status === status;
      },
      10_000,
      status,
    );
    return run as RunRow;
  }

  describe("attempts", () => {
    it("a first-try success shows 1 in the run, its steps and its events", async () => {
      await startWorker();
      const { run } = await service.submit({ agent: "once" });
      expect(run.attempt).toBe(0);
      const done = await finish(run.id);
      expect(done.attempt).toBe(1);
      const steps = await service.steps(run.id);
      expect(steps.map((s) => s.attempt)).toEqual([1]);
      const ev = await events(run.id);
      expect(ev.find((e) => e.type === "run.succeeded")?.data.attempt).toBe(1);
      expect(ev.find((e) => e.type === "step.finished")?.data.attempt).toBe(1);
    });

    it("maxAttempts: 2 makes two attempts and shows attempts 2 of 2", async () => {
      await startWorker();
      const { run } = await service.submit({ agent: "doomed" });
      const done = await finish(run.id);
      expect(done.status).toBe("failed");
      expect(executions).toEqual(["doomed:1", "doomed:2"]);
      expect(done.attempt).toBe(2);
      expect(done.max_attempts).toBe(2);
      const failed = (await events(run.id)).filter((e) => e.type === "run.failed");
      expect(failed.map((e) => e.data.attempt)).toEqual([2]);
    });

    it("a sleep and a throttle stay in the same attempt", async () => {
      await startWorker();
      const { run } = await service.submit({ agent: "patient" });
      const done = await finish(run.id);
      expect(done.status).toBe("succeeded");
      expect(done.output).toBe(1);
      expect(done.attempt).toBe(1);
      const statuses = (await events(run.id)).filter((e) => e.type.startsWith("run."));
      expect(statuses.map((e) => e.type)).toContain("run.throttled");
      expect(statuses.map((e) => e.type)).toContain("run.waiting");
      expect(new Set(statuses.slice(1).map((e) => e.data.attempt))).toEqual(new Set([1]));
      const steps = await service.steps(run.id);
      expect(new Set(steps.map((s) => s.attempt))).toEqual(new Set([1]));
    });

    it("the worker's retry policy replaces the one the run was submitted with", async () => {
      // The API process knows "doomed" with maxAttempts 5; the worker deployed since with 2.
      const submitter = new RunService(db, [
        defineAgent({ name: "doomed", retry: { maxAttempts: 5 }, run: async () => {} }),
      ]);
      const { run } = await submitter.submit({ agent: "doomed" });
      expect(run.max_attempts).toBe(5);
      await startWorker();
      const done = await finish(run.id);
      expect(executions).toEqual(["doomed:1", "doomed:2"]);
      expect(done.max_attempts).toBe(2);
      expect(done.attempt).toBe(2);
    });

    it("a policy lowered below the attempt a run is in lets that attempt be its last", async () => {
      const { run } = await service.submit({ agent: "doomed" });
      // As if three attempts had failed under an older policy of 5.
      await db.query(
        "UPDATE outlast.runs SET attempt = 3, max_attempts = 5, new_attempt = true WHERE id = $1",
        [run.id],
      );
      await startWorker();
      const done = await finish(run.id);
      expect(executions).toEqual(["doomed:4"]);
      expect(done.attempt).toBe(4);
      expect(done.max_attempts).toBe(4);
    });
  });

  it("progress is published once per call, across a sleep, a signal and a retry", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "reporter" });
    await statusOf(run.id, "waiting").then(async () => {
      // The sleep wakes by itself; then it waits for "go".
      await until(
        async () => (await service.get(run.id)).waiting_for?.kind === "signal",
        10_000,
        "the run to wait for its signal",
      );
    });
    expect((await service.get(run.id)).progress).toEqual({ n: 3 });
    await service.signal(run.id, "go", null);
    const done = await finish(run.id);
    expect(done.status).toBe("succeeded");
    expect(done.attempt).toBe(2);
    const progress = (await events(run.id)).filter((e) => e.type === "run.progress");
    expect(progress.map((e) => e.data.progress)).toEqual([1, 2, 3, 4, 5].map((n) => ({ n })));
    expect(done.progress).toEqual({ n: 5 });
  });

  describe("waiting_for says why a held run is not running", () => {
    it.each([
      ["sleep", "waiting", /^sleeping in "cool down" until /],
      ["signal", "waiting", /^waiting for signal "approval"$/],
      ["provider", "throttled", /^throttled by the provider limit sim\/gpt-4o-mini tpm: /],
      ["cap", "throttled", /^throttled by the cap tenant "acme" rpm: over the cap$/],
      ["retry", "queued", /^attempt 1 failed \(upstream hiccup\); the next one starts/],
    ] as const)("%s", async (how, status, reason) => {
      await startWorker();
      const { run } = await service.submit({ agent: "held", input: how });
      const held = await statusOf(run.id, status);
      const kind = { provider: "provider_limit" }[how as string] ?? how;
      expect(held.waiting_for).toMatchObject({ kind, reason: expect.stringMatching(reason) });
      // The status event carries the same.
      const ev = (await events(run.id)).findLast((e) => e.type === `run.${status}`);
      expect(ev?.data.waiting_for).toMatchObject({ kind });
      if (status === "throttled") {
        expect(held.waiting_for?.eta).toBeDefined();
        expect(held.attempt).toBe(1);
      }
    });

    it("child", async () => {
      await startWorker();
      const { run } = await service.submit({ agent: "held", input: "child" });
      const held = await statusOf(run.id, "waiting");
      expect(held.waiting_for).toMatchObject({
        kind: "child",
        reason: expect.stringMatching(/^waiting for child run [0-9a-f-]{36} \("agent:held"\)$/),
      });
    });

    it("scheduled, and no_worker until a worker serves the queue", async () => {
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const { run: scheduled } = await service.submit({ agent: "once", run_at: later });
      expect((await service.get(scheduled.id)).waiting_for).toMatchObject({
        kind: "scheduled",
        reason: `scheduled to start at ${later}`,
      });
      const { run } = await service.submit({ agent: "once" });
      const page = await service.list({ agent: "once" });
      expect(page.runs.find((r) => r.id === run.id)?.waiting_for).toMatchObject({
        kind: "no_worker",
        queue: "default",
        reason: 'no live worker serves queue "default"; start one: outlast worker --queues default',
      });
      // A worker of another queue does not count.
      await startWorker({ queues: ["elsewhere"] });
      expect((await service.get(run.id)).waiting_for?.kind).toBe("no_worker");
      await startWorker();
      expect((await finish(run.id)).status).toBe("succeeded");
    });
  });

  it("a waiting run shows no error of an earlier attempt", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "held", input: "retry, then wait" });
    await statusOf(run.id, "queued");
    expect((await service.get(run.id)).error?.message).toBe("upstream hiccup");
    // Bring the retry's backoff to now: the second attempt goes on to wait for a signal.
    await db.query("UPDATE outlast.runs SET available_at = now() WHERE id = $1", [run.id]);
    const waiting = await statusOf(run.id, "waiting");
    expect(waiting.attempt).toBe(2);
    expect(waiting.error).toBeNull();
  });

  it("a run cancelled mid-step records a CancelledError that is not retryable", async () => {
    await startWorker();
    const { run } = await service.submit({ agent: "held", input: "slow" });
    await until(async () => (await service.steps(run.id)).length > 0, 10_000, "the slow step");
    await service.cancel(run.id);
    const done = await finish(run.id);
    expect(done.status).toBe("cancelled");
    expect(done.error).toMatchObject({ code: "OUTLAST_CANCELLED", retryable: false });
  });

  it("a short sleep wakes on time, not a poll interval later", async () => {
    await startWorker({ pollIntervalMs: 30_000 });
    const { run } = await service.submit({ agent: "patient" });
    const started = Date.now();
    const done = await finish(run.id);
    expect(done.status).toBe("succeeded");
    // A 50 ms nap and a 50 ms throttle: well under the 30 s poll even on a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("steps that listen on their signal leave no listener on the run's", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      await startWorker();
      const { run } = await service.submit({ agent: "listener" });
      expect((await finish(run.id)).output).toBe("ok");
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.includes("MaxListenersExceeded"))).toEqual([]);
  });
});
