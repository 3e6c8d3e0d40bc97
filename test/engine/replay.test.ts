import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import type { RunContext } from "../../src/engine/context.js";
import { RunService } from "../../src/engine/run-service.js";
import { ChildRunFailedError, SignalTimeoutError } from "../../src/engine/wait-errors.js";
import { Worker } from "../../src/engine/worker.js";
import { TerminalError } from "../../src/errors.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

/** What an agent can tell about an error it caught. */
interface Seen {
  name: string;
  code: string | undefined;
  message: string;
  terminal: boolean;
  /** The class an agent's `instanceof` sees, and what it carries. */
  cls: string;
  childRunId?: string;
}

function seen(err: unknown): Seen {
  const e = err as Error & { code?: string };
  const cls =
    e instanceof ChildRunFailedError
      ? "ChildRunFailedError"
      : e instanceof SignalTimeoutError
        ? "SignalTimeoutError"
        : e.constructor.name;
  return {
    name: e.name,
    code: e.code,
    message: e.message,
    terminal: e instanceof TerminalError,
    cls,
    ...(e instanceof ChildRunFailedError ? { childRunId: e.childRunId } : {}),
  };
}

// Recorded failures (a terminal step, a failed child run, a signal timeout) are journaled:
// a replay — after a park, or after `resume` of a failed run — must throw the same errors
// at the same places, or the agent takes another path than the one it recorded.
describe.each(BACKENDS)("replay on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let worker: Worker;
  /** Per run: what the agent caught, each time its code got past the three failures. */
  const views = new Map<string, Seen[][]>();
  const bodies: string[] = [];
  let fixed = false;

  async function catchThree(ctx: RunContext): Promise<Seen[]> {
    const caught: Seen[] = [];
    try {
      await ctx.step("refuse", () => {
        bodies.push(`refuse:${ctx.runId}`);
        throw new TerminalError("the card was declined", { code: "APP_DECLINED" });
      });
    } catch (err) {
      caught.push(seen(err));
    }
    try {
      await ctx.runAgent("doomed", {});
    } catch (err) {
      caught.push(seen(err));
    }
    try {
      await ctx.waitForSignal("approval", { timeoutMs: 50 });
    } catch (err) {
      caught.push(seen(err));
    }
    const list = views.get(ctx.runId) ?? [];
    list.push(caught);
    views.set(ctx.runId, list);
    return caught;
  }

  /** Which code `changing` runs: the test "deploys" another version under a parked run. */
  let variant: "old" | "renamed" | "rekinded" = "old";

  const agents = [
    defineAgent({
      name: "changing",
      // One version throughout, as when a deploy forgets to bump it.
      version: "1",
      run: async (ctx) => {
        if (variant === "old") await ctx.step("charge card", () => "charged");
        if (variant === "renamed") await ctx.step("send invoice", () => "sent");
        if (variant === "rekinded") await ctx.sleep("charge card", 1);
        // Parked until the test has "deployed" the other variant: a short sleep here let
        // the run finish on PGlite before the test saw it waiting.
        await ctx.waitForSignal("deployed");
        return variant;
      },
    }),
    defineAgent({
      name: "doomed",
      run: async () => {
        throw new TerminalError("the child gave up", { code: "APP_CHILD" });
      },
    }),
    defineAgent({
      name: "catch-then-sleep",
      run: async (ctx) => {
        const caught = await catchThree(ctx);
        await ctx.sleep("park", 50);
        return caught;
      },
    }),
    defineAgent({
      name: "catch-then-fail",
      run: async (ctx) => {
        const caught = await catchThree(ctx);
        // Resume drops the failed steps after the last good one: this one keeps the three
        // caught failures in the journal, to be replayed.
        await ctx.step("checkpoint", () => caught.length);
        await ctx.step("needs a fix", () => {
          if (!fixed) throw new TerminalError("bug");
        });
        return caught;
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, pollIntervalMs: 100 });
    await worker.start();
    views.clear();
    bodies.length = 0;
    fixed = false;
    variant = "old";
  });

  afterEach(async () => {
    await worker.stop(500);
    await service.stop();
    await close();
  });

  const expected = (childId: string): Seen[] => [
    {
      name: "TerminalError",
      code: "APP_DECLINED",
      message: "the card was declined",
      terminal: true,
      cls: "TerminalError",
    },
    {
      name: "ChildRunFailedError",
      code: "OUTLAST_CHILD_FAILED",
      message: `child run ${childId} of agent "doomed" failed: the child gave up`,
      terminal: true,
      cls: "ChildRunFailedError",
      childRunId: childId,
    },
    {
      name: "SignalTimeoutError",
      code: "OUTLAST_SIGNAL_TIMEOUT",
      message: 'no signal "approval" arrived within 50 ms',
      terminal: true,
      cls: "SignalTimeoutError",
    },
  ];

  async function childOf(parentId: string): Promise<string> {
    const children = (await service.list({ agent: "doomed" })).runs;
    const mine = children.filter((c) => c.parent_run_id === parentId);
    expect(mine).toHaveLength(1);
    return mine[0]!.id;
  }

  it("throws the same errors when a parked run is replayed", async () => {
    const { run } = await service.submit({ agent: "catch-then-sleep" });
    const { run: done } = await service.waitFor(run.id, 15_000);
    expect(done.status).toBe("succeeded");
    const want = expected(await childOf(run.id));
    // Got past the failures once, parked on the sleep, then replayed them all from the journal.
    expect(views.get(run.id)).toEqual([want, want]);
    expect(done.output).toEqual(want);
    expect(bodies).toEqual([`refuse:${run.id}`]);
  });

  it("throws the same errors when a failed run is resumed", async () => {
    const { run } = await service.submit({ agent: "catch-then-fail" });
    const { run: failed } = await service.waitFor(run.id, 15_000);
    expect(failed.status).toBe("failed");
    expect(failed.error?.message).toBe("bug");
    const want = expected(await childOf(run.id));
    expect(views.get(run.id)).toEqual([want]);

    fixed = true;
    await service.resume(run.id);
    const { run: done } = await service.waitFor(run.id, 15_000);
    expect(done.status).toBe("succeeded");
    expect(views.get(run.id)).toEqual([want, want]);
    expect(done.output).toEqual(want);
    expect(bodies).toEqual([`refuse:${run.id}`]);
    // The failed child is not started again by the replay.
    await childOf(run.id);
  });

  it("fails the run with OUTLAST_NONDETERMINISM naming both steps when the code calls another step at a recorded position", async () => {
    const cases = [
      { to: "renamed", now: '"send invoice"' },
      { to: "rekinded", now: 'sleep "charge card"' },
    ] as const;
    for (const { to, now } of cases) {
      variant = "old";
      const { run } = await service.submit({ agent: "changing" });
      await until(
        async () => (await service.get(run.id)).status === "waiting",
        10_000,
        "the run to park after its first step",
      );
      variant = to;
      await service.signal(run.id, "deployed", null);
      const { run: done } = await service.waitFor(run.id, 10_000);
      expect(done.status).toBe("failed");
      expect(done.error?.code).toBe("OUTLAST_NONDETERMINISM");
      expect(done.error?.message).toContain(
        `step 1 of run ${run.id}: the journal recorded "charge card" but the code now calls ${now}`,
      );
    }
  });
});
