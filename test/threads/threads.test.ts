import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { ThreadService } from "../../src/engine/thread-service.js";
import { Worker, type WorkerOptions } from "../../src/engine/worker.js";
import { Pruner } from "../../src/retention/pruner.js";
import { threadsTarget } from "../../src/retention/targets.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)("threads on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let threads: ThreadService;
  const workers: Worker[] = [];
  /** [run id, "start" | "end", ms] in the order they happened. */
  const log: { id: string; what: "start" | "end"; at: number }[] = [];
  const gates = new Map<string, () => void>();

  const agents = [
    defineAgent({
      name: "turn",
      run: async (ctx, input: { text: string; steps?: number }) => {
        log.push({ id: ctx.runId, what: "start", at: Date.now() });
        for (let i = 0; i < (input.steps ?? 2); i++) await ctx.step(`s${i}`, () => sleep(20));
        await ctx.thread.append({ role: "user", content: input.text });
        await ctx.thread.append({ role: "assistant", content: `re: ${input.text}` });
        log.push({ id: ctx.runId, what: "end", at: Date.now() });
        return (await ctx.thread.messages()).length;
      },
    }),
    defineAgent({
      name: "gated",
      run: async (ctx, input: { text: string }) => {
        await ctx.thread.append({ role: "user", content: input.text });
        await ctx.thread.setState({ stage: input.text });
        // Holds the thread at a step until the test opens the gate (or the run is stopped).
        await ctx.step("gate", ({ signal }) => {
          return new Promise<void>((resolve, reject) => {
            gates.set(input.text, resolve);
            signal.addEventListener("abort", () => reject(signal.reason), { once: true });
          });
        });
        await ctx.thread.append({ role: "assistant", content: `done ${input.text}` });
        return "ok";
      },
    }),
    defineAgent({
      name: "stateful",
      run: async (ctx) => {
        const before = await ctx.thread.state<{ n?: number }>();
        await ctx.thread.setState({ n: (before.n ?? 0) + 1, gone: null });
        await ctx.sleep("nap", 30);
        const last = await ctx.thread.messages({ last: 1 });
        return { n: (before.n ?? 0) + 1, last };
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    threads = new ThreadService(db);
    await service.start();
    log.length = 0;
    gates.clear();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(500);
    await service.stop();
    await close();
  });

  async function countMessages(): Promise<number> {
    const rows = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outlast.thread_messages",
    );
    return rows[0]?.n ?? -1;
  }

  async function startWorker(opts: Partial<WorkerOptions> = {}): Promise<Worker> {
    const w = new Worker({ db, agents, concurrency: 8, ...opts });
    workers.push(w);
    await w.start();
    return w;
  }

  it("runs a thread's runs one at a time, in run id order, and other threads beside it", async () => {
    const ids: Record<string, string[]> = { a: [], b: [] };
    for (let i = 0; i < 4; i++) {
      for (const t of ["a", "b"] as const) {
        const { run } = await service.submit({
          agent: "turn",
          input: { text: `${t}${i}` },
          thread_id: t,
        });
        ids[t]?.push(run.id);
      }
    }
    // Queued behind the first: not a claim candidate, and says why.
    const held = await service.get(ids.a?.[1] as string);
    expect(held.status).toBe("queued");
    expect(held.waiting_for).toMatchObject({ kind: "thread", thread_id: "a" });
    expect((await threads.get("default", "a")).status).toBe("busy");
    await startWorker();
    // Two workers in one process on one PGlite give each other's runs back (seen on main
    // too, without threads); PGlite runs one worker per process.
    if (backend === "postgres") await startWorker();
    for (const id of [...(ids.a ?? []), ...(ids.b ?? [])]) {
      const { run } = await service.waitFor(id, 20_000);
      expect(run.status).toBe("succeeded");
    }
    for (const t of ["a", "b"] as const) {
      const mine = log.filter((e) => ids[t]?.includes(e.id));
      // start, end, start, end … in id order: never two at once.
      expect(mine.map((e) => e.what)).toEqual(Array(4).fill(["start", "end"]).flat());
      const started = mine.filter((e) => e.what === "start").map((e) => e.id);
      expect(started).toEqual([...(ids[t] ?? [])].sort());
      expect(started).toEqual(ids[t]);
    }
    // The two threads overlapped (eight slots).
    const firstEnd = log.findIndex((e) => e.what === "end");
    expect(log.slice(0, firstEnd).filter((e) => e.what === "start").length).toBe(2);
    const a = await threads.get("default", "a");
    expect(a).toMatchObject({ status: "idle", active_run_id: null, version: 8, message_count: 8 });
    const page = await threads.messages("default", "a", { limit: 3 });
    expect(page.messages.map((m) => m.message)).toEqual([
      { role: "user", content: "a0" },
      { role: "assistant", content: "re: a0" },
      { role: "user", content: "a1" },
    ]);
    expect(page.next_cursor).toBe(3);
    const hist = await threads.history("default", "a", { limit: 2 });
    expect(hist.versions.map((v) => [v.version, v.run_id])).toEqual([
      [8, ids.a?.[3]],
      [7, ids.a?.[3]],
    ]);
  });

  it("reject answers 409 OUTLAST_THREAD_BUSY while the thread is busy, and submits once it is idle", async () => {
    const first = await service.submit({ agent: "gated", input: { text: "one" }, thread_id: "r" });
    await expect(
      service.submit({
        agent: "gated",
        input: { text: "two" },
        thread_id: "r",
        multitask_strategy: "reject",
      }),
    ).rejects.toMatchObject({ code: "OUTLAST_THREAD_BUSY" });
    await startWorker();
    await until(() => gates.has("one"), 10_000, "the first run at its gate");
    gates.get("one")?.();
    expect((await service.waitFor(first.run.id, 10_000)).run.status).toBe("succeeded");
    const second = await service.submit({
      agent: "gated",
      input: { text: "two" },
      thread_id: "r",
      multitask_strategy: "reject",
    });
    expect(second.run.status).toBe("queued");
    expect(second.run.waiting_for).toBeNull();
  });

  for (const strategy of ["interrupt", "rollback"] as const) {
    it(`${strategy}: the active run ends cancelled (OUTLAST_INTERRUPTED) at its step boundary and the new run starts`, async () => {
      await startWorker();
      const first = await service.submit({
        agent: "gated",
        input: { text: "one" },
        thread_id: strategy,
      });
      await until(() => gates.has("one"), 10_000, "the first run at its gate");
      // Version 2 now: the first run's append and setState.
      expect((await threads.get("default", strategy)).version).toBe(2);
      const second = await service.submit({
        agent: "gated",
        input: { text: "two" },
        thread_id: strategy,
        multitask_strategy: strategy,
      });
      expect(second.run.waiting_for).toMatchObject({ kind: "thread" });
      const stopped = (await service.waitFor(first.run.id, 10_000)).run;
      expect(stopped.status).toBe("cancelled");
      expect(stopped.error).toMatchObject({ code: "OUTLAST_INTERRUPTED" });
      await until(() => gates.has("two"), 10_000, "the second run at its gate");
      const during = await threads.state("default", strategy);
      const msgs = (await threads.messages("default", strategy, {})).messages.map(
        (m) => m.message.content,
      );
      if (strategy === "interrupt") {
        // What the interrupted run wrote stays: versions 1–2 are its, 3–4 the new run's.
        expect(msgs).toEqual(["one", "two"]);
        expect(during).toMatchObject({ version: 4, message_count: 2, state: { stage: "two" } });
      } else {
        // Rolled back to version 0, then the new run wrote versions 1–2.
        expect(msgs).toEqual(["two"]);
        expect(during).toMatchObject({ version: 2, message_count: 1, state: { stage: "two" } });
        const hist = await threads.history("default", strategy, {});
        expect(hist.versions.every((v) => v.run_id === second.run.id)).toBe(true);
      }
      gates.get("two")?.();
      expect((await service.waitFor(second.run.id, 10_000)).run.status).toBe("succeeded");
    });
  }

  it("interrupts a holder that is not running at once", async () => {
    // No worker: the first run holds the thread while queued.
    const first = await service.submit({ agent: "turn", input: { text: "x" }, thread_id: "q" });
    const second = await service.submit({
      agent: "turn",
      input: { text: "y" },
      thread_id: "q",
      multitask_strategy: "interrupt",
    });
    const stopped = await service.get(first.run.id);
    expect(stopped.status).toBe("cancelled");
    expect(stopped.error).toMatchObject({ code: "OUTLAST_INTERRUPTED" });
    expect(second.run.waiting_for).toBeNull();
    expect((await threads.get("default", "q")).active_run_id).toBe(second.run.id);
  });

  it("cancelling a run queued behind the thread skips it; cancelling the holder hands the thread on", async () => {
    const a = await service.submit({ agent: "turn", input: { text: "a" }, thread_id: "c" });
    const b = await service.submit({ agent: "turn", input: { text: "b" }, thread_id: "c" });
    const c = await service.submit({ agent: "turn", input: { text: "c" }, thread_id: "c" });
    await service.cancel(b.run.id);
    await service.cancel(a.run.id);
    expect((await threads.get("default", "c")).active_run_id).toBe(c.run.id);
    const ready = await service.get(c.run.id);
    expect(ready.waiting_for?.kind).toBe("no_worker");
    await startWorker();
    expect((await service.waitFor(c.run.id, 10_000)).run.status).toBe("succeeded");
    expect((await threads.get("default", "c")).status).toBe("idle");
  });

  it("ctx.thread state and reads replay from the journal across a park", async () => {
    await startWorker();
    const seed = await service.submit({
      agent: "turn",
      input: { text: "hi", steps: 0 },
      thread_id: "s",
    });
    await service.waitFor(seed.run.id, 10_000);
    const r1 = await service.submit({ agent: "stateful", thread_id: "s" });
    const r2 = await service.submit({ agent: "stateful", thread_id: "s" });
    const o1 = (await service.waitFor(r1.run.id, 10_000)).run;
    const o2 = (await service.waitFor(r2.run.id, 10_000)).run;
    expect(o1.output).toEqual({ n: 1, last: [{ role: "assistant", content: "re: hi" }] });
    expect(o2.output).toMatchObject({ n: 2 });
    const s = await threads.state("default", "s");
    expect(s.state).toEqual({ n: 2 });
    // The state as of an older version.
    expect((await threads.state("default", "s", 3)).state).toEqual({ n: 1 });
    const steps = await service.steps(r1.run.id);
    expect(steps.map((x) => `${x.kind}:${x.name}`)).toEqual([
      "thread:thread.state",
      "thread:thread.setState",
      "sleep:nap",
      "thread:thread.messages",
    ]);
  });

  it("a write made before a crash whose journal row was lost is not made again on replay", async () => {
    const { run } = await service.submit({
      agent: "turn",
      input: { text: "once", steps: 2 },
      thread_id: "w",
    });
    // A worker that claimed the run, made the first append (seq 3: after two steps) and
    // died before its journal write: the thread has the message, the journal has nothing.
    const [claimed] = await service.repo.claim(["default"], 1, {
      id: "dead-worker",
      agents: ["turn"],
      maxAttempts: [3],
    });
    expect(claimed?.id).toBe(run.id);
    const made = await threads.repo.write({
      project: "default",
      threadId: "w",
      runId: run.id,
      leaseToken: claimed?.leaseToken as string,
      seq: 3,
      messages: [{ role: "user", content: "once" }],
      statePatch: undefined,
    });
    expect(made).toEqual({ version: 1, message_count: 1 });
    await service.repo.releaseRuns([{ id: run.id, leaseToken: claimed?.leaseToken as string }]);
    await startWorker();
    expect((await service.waitFor(run.id, 10_000)).run.output).toBe(2);
    const msgs = (await threads.messages("default", "w", {})).messages.map((m) => m.message);
    expect(msgs).toEqual([
      { role: "user", content: "once" },
      { role: "assistant", content: "re: once" },
    ]);
    expect((await threads.get("default", "w")).version).toBe(2);
  });

  it("retention deletes idle threads last written before the limit, whole, and keeps messages a kept thread shares", async () => {
    await startWorker();
    for (const t of ["old", "new"]) {
      const { run } = await service.submit({
        agent: "turn",
        input: { text: "same", steps: 0 },
        thread_id: t,
      });
      await service.waitFor(run.id, 10_000);
    }
    const { run } = await service.submit({
      agent: "turn",
      input: { text: "own", steps: 0 },
      thread_id: "old",
    });
    await service.waitFor(run.id, 10_000);
    await db.query(
      "UPDATE outlast.threads SET updated_at = now() - interval '40 days' WHERE id = 'old'",
    );
    const report = await new Pruner({
      db,
      rules: [{ target: threadsTarget(), keepMs: 30 * 86_400_000 }],
      batchRows: 1_000,
      pauseMs: 0,
      duty: 1,
    }).runPass();
    expect(report).toBeDefined();
    await expect(threads.get("default", "old")).rejects.toMatchObject({
      code: "OUTLAST_THREAD_NOT_FOUND",
    });
    expect((await threads.messages("default", "new", {})).messages).toHaveLength(2);
    // "same"/"re: same" are shared with "new"; "own"/"re: own" went with "old".
    expect(await countMessages()).toBe(2);
    const left = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outlast.thread_versions WHERE thread_id = 'old'",
    );
    expect(left[0]?.n).toBe(0);
  });

  it("forks a thread at a version, sharing its messages", async () => {
    await startWorker();
    for (const text of ["one", "two"]) {
      const { run } = await service.submit({
        agent: "turn",
        input: { text, steps: 0 },
        thread_id: "f",
      });
      await service.waitFor(run.id, 10_000);
    }
    const fork = await threads.fork("default", "f", { version: 2, id: "f2" });
    expect(fork).toMatchObject({
      id: "f2",
      version: 1,
      message_count: 2,
      forked_from: { thread_id: "f", version: 2 },
    });
    const msgs = (await threads.messages("default", "f2", {})).messages.map(
      (m) => m.message.content,
    );
    expect(msgs).toEqual(["one", "re: one"]);
    const n = await countMessages();
    expect(n).toBe(4);
    await threads.delete("default", "f");
    // f2 still references the first two.
    const left = await countMessages();
    expect(left).toBe(2);
    expect((await threads.messages("default", "f2", {})).messages).toHaveLength(2);
  });
});
