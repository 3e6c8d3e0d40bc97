import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { type AnyAgent, defineAgent } from "../../src/engine/agent.js";
import { RunContextImpl } from "../../src/engine/context.js";
import { type Outcome, runAgent } from "../../src/engine/execute.js";
import { versionMismatch } from "../../src/engine/versions.js";
import type { ClaimedRun, JournalEntry, StepRecord } from "../../src/types/index.js";
import { silentLogger } from "../../src/util/log.js";
import {
  bodies,
  charge,
  chargeRenamed,
  chargeV2,
  chargeV3,
  fanOut,
} from "../fixtures/journals/agents.js";

/** A journal recorded from a real run by test/fixtures/journals/record.ts. */
interface Fixture {
  run: { id: string; agent: string; agentVersion: string; input: unknown };
  output: unknown;
  journal: JournalEntry[];
}

function fixture(name: string): Fixture {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/journals/${name}.json`, import.meta.url), "utf8"),
  );
}

function claimed(f: Fixture): ClaimedRun {
  return {
    id: f.run.id,
    project: "default",
    agent: f.run.agent,
    queue: "default",
    input: f.run.input,
    attempt: 1,
    maxAttempts: 1,
    claims: 2,
    leaseToken: "fixture",
    cancelRequested: false,
    threadId: null,
    tags: {},
    wakeups: 0,
    agentVersion: f.run.agentVersion,
    parentRunId: null,
    progressCalls: 0,
    priorWaitingFor: null,
  };
}

/**
 * Replays a recorded journal with today's engine, in memory: what the executor does after
 * loading a run's journal, without a database. Returns how the attempt ended and what it
 * wrote (a pure replay writes nothing).
 */
async function replay(
  agent: AnyAgent,
  f: Fixture,
): Promise<{ outcome: Outcome; written: StepRecord[] }> {
  const run = claimed(f);
  const written: StepRecord[] = [];
  const abort = new AbortController();
  const ctx = new RunContextImpl({
    runId: run.id,
    agent: run.agent,
    attempt: run.attempt,
    progressPublished: 0,
    journal: new Map(f.journal.map((e) => [e.seq, e])),
    priorWaits: null,
    abort,
    log: silentLogger,
    llm: undefined,
    attribution: {},
    started: () => {},
    record: async (step) => {
      written.push(step);
    },
    setProgress: async () => {},
    consumeSignal: async () => undefined,
    startChild: () => Promise.reject(new Error("no child runs in fixtures")),
    park: (waits) => abort.abort(new Error(`parked on ${JSON.stringify(waits)}`)),
  });
  return { outcome: await runAgent(agent, run, ctx, abort), written };
}

function output(outcome: Outcome): unknown {
  if (outcome.kind !== "succeeded") throw new Error(`expected success, got ${outcome.kind}`);
  return outcome.outputJson === undefined ? undefined : JSON.parse(outcome.outputJson);
}

describe("replaying recorded journals", () => {
  beforeEach(() => {
    bodies.length = 0;
  });

  it("gives each call of a Promise.all its own recorded result, whatever order they finished in", async () => {
    const f = fixture("fan-out");
    const { outcome, written } = await replay(fanOut, f);
    expect(output(outcome)).toEqual(f.output);
    expect(bodies).toEqual([]);
    expect(written).toEqual([]);
  });

  it("returns the recorded time from ctx.now() and the same values from ctx.random()", async () => {
    const f = fixture("fan-out");
    const recorded = f.output as { at: string; r: number[] };
    const { outcome } = await replay(fanOut, f);
    const replayed = output(outcome) as { at: string; r: number[] };
    expect(replayed.at).toBe(recorded.at);
    expect(replayed.r).toEqual(recorded.r);
    expect(new Set(replayed.r).size).toBe(2);
  });

  it("runs the first unjournaled call for real after the journal ends", async () => {
    const f = fixture("charge");
    const { outcome, written } = await replay(charge, { ...f, journal: f.journal.slice(0, 1) });
    expect(output(outcome)).toBe("done");
    expect(bodies).toEqual(["send receipt"]);
    expect(written.map((w) => [w.seq, w.name])).toEqual([[2, "send receipt"]]);
  });

  it("fails with OUTLAST_NONDETERMINISM naming both steps when the code calls another step", async () => {
    const f = fixture("charge");
    const { outcome, written } = await replay(chargeRenamed, f);
    expect(outcome.kind).toBe("failed");
    const error = (outcome as { error: Error & { code?: string } }).error;
    expect(error.code).toBe("OUTLAST_NONDETERMINISM");
    expect(error.message).toContain(
      `step 1 of run ${f.run.id}: the journal recorded "charge card" but the code now calls "send invoice"`,
    );
    expect(bodies).toEqual([]);
    expect(written).toEqual([]);
  });

  it("refuses a journal of another version unless the code declares it compatible", () => {
    const f = fixture("charge");
    const run = claimed(f);
    expect(versionMismatch(charge, run, f.journal.length)).toBeUndefined();
    const refused = versionMismatch(chargeV2, run, f.journal.length);
    expect(refused?.code).toBe("OUTLAST_VERSION_MISMATCH");
    expect(refused?.message).toContain('"1"');
    expect(versionMismatch(chargeV3, run, f.journal.length)).toBeUndefined();
    // A run with nothing journaled yet starts on any version.
    expect(versionMismatch(chargeV2, run, 0)).toBeUndefined();
  });

  it.each([
    ["ctx.random()", (ctx: Parameters<AnyAgent["run"]>[0]) => ctx.step("pick", () => ctx.random())],
    [
      "ctx.step",
      (ctx: Parameters<AnyAgent["run"]>[0]) => ctx.step("outer", () => ctx.step("inner", () => 1)),
    ],
    ["ctx.now()", (ctx: Parameters<AnyAgent["run"]>[0]) => ctx.step("when", () => ctx.now())],
  ])("refuses %s inside a step's body, which a replay would not run", async (_, run) => {
    const agent = defineAgent({ name: "nested", version: "1", run: async (ctx) => run(ctx) });
    const empty: Fixture = {
      run: {
        id: "01a23b00-0000-7000-8000-000000000001",
        agent: "nested",
        agentVersion: "1",
        input: null,
      },
      output: null,
      journal: [],
    };
    const { outcome, written } = await replay(agent, empty);
    expect(outcome.kind).toBe("failed");
    const error = (outcome as { error: Error & { code?: string } }).error;
    expect(error.code).toBe("OUTLAST_CTX_IN_STEP");
    expect(error.message).toMatch(/inside the body of step "(pick|outer|when)"/);
    // The step fails with it, journaled, so a replay fails the same way.
    expect(written.map((w) => [w.seq, w.status])).toEqual([[1, "failed"]]);
  });
});
