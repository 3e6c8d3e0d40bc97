/**
 * An agent written with the AI SDK or the Agents SDK survives a crash on PostgreSQL: a
 * loop of 6 model calls and 5 tool calls, its worker SIGKILLed right after the third model
 * call's journal entry committed (a pause point: the tool call after it holds, before its
 * work, while a gate file exists). Another worker process finishes the run from the
 * journal: the simulator served at most one model call more than the loop makes (the one
 * in flight, if any — here none), each tool body ran once, and the run's usage in the
 * gateway's accounting equals what the simulator counted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunService } from "../../src/engine/run-service.js";
import { queryUsage } from "../../src/gateway/accounting/usage-query.js";
import { type Simulator, startSimulator } from "../../src/sim/index.js";
import { agentsLoop, aiSdkLoop } from "../fixtures/sdks.config.js";
import {
  type CliProcess,
  processSuite,
  readFields,
  spawnCli,
  until,
} from "../helpers/processes.js";
import { sdkScript } from "./script.js";

const CONFIG = "test/fixtures/sdks.config.ts";

interface Scenario {
  title: string;
  agent: string;
  input: Record<string, unknown>;
  /** Function-tool calls the loop makes (a handoff is a tool call of the model's, not ours). */
  lookups: number;
  text: string;
}

const SCENARIOS: Scenario[] = [
  {
    title: "AI SDK generateText",
    agent: "ai-sdk-loop",
    input: { gateAt: 3 },
    lookups: 5,
    text: "done after 5 lookups",
  },
  {
    title: "AI SDK streamText",
    agent: "ai-sdk-loop",
    input: { stream: true, gateAt: 3 },
    lookups: 5,
    text: "done after 5 lookups",
  },
  {
    title: "Agents SDK run",
    agent: "agents-loop",
    input: { gateAt: 3 },
    lookups: 5,
    text: "done after 5 lookups",
  },
  {
    title: "Agents SDK run, streamed",
    agent: "agents-loop",
    input: { stream: true, gateAt: 3 },
    lookups: 5,
    text: "done after 5 lookups",
  },
  {
    // Model call 1 hands off; the lookup after model call 3 is the second.
    title: "Agents SDK handoff, streamed",
    agent: "agents-loop",
    input: { stream: true, handoff: true, gateAt: 2 },
    lookups: 4,
    text: "done after 4 lookups",
  },
];

describe("crash: SIGKILL a worker in the middle of an SDK's agent loop", () => {
  const suite = processSuite();
  let sim: Simulator;
  let service: RunService;
  let dir: string;
  let ledger: string;
  let gate: string;
  /** Two live workers before each scenario: the one that claims the run is killed. */
  let live: CliProcess[] = [];
  const startWorker = async () => {
    const w = spawnCli(["worker", "--config", CONFIG], {
      DATABASE_URL: suite.url,
      OUTLAST_TEST_SIM_URL: sim.url,
      OUTLAST_TEST_LEDGER: ledger,
      OUTLAST_TEST_GATE: gate,
    });
    suite.procs.push(w);
    live.push(w);
    // Starting a worker takes seconds on a loaded machine (tsx, both SDKs): a generous bound.
    await w.waitFor(/worker started/, 120_000);
  };

  beforeAll(async () => {
    sim = await startSimulator({
      models: [{ name: "gpt-4o-mini", reply: sdkScript, latencyMs: [5, 10] }],
    });
    service = new RunService(suite.db, [aiSdkLoop, agentsLoop]);
    await service.start();
    dir = mkdtempSync(join(tmpdir(), "outlast-sdk-kill-"));
    ledger = join(dir, "ledger");
    gate = join(dir, "gate");
  });

  afterAll(async () => {
    await service?.stop();
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const s of SCENARIOS) {
    it(`${s.title}: finishes on another worker, no model or tool call repeated`, async () => {
      sim.reset();
      writeFileSync(gate, "");
      rmSync(`${gate}.reached`, { force: true });
      await Promise.all(Array.from({ length: 2 - live.length }, startWorker));
      const { run } = await service.submit({ agent: s.agent, input: s.input });

      // The pause point: the worker that claimed the run holds in the tool call after the
      // third model call.
      await until(() => existsSync(`${gate}.reached`), 120_000, "the run to reach the pause point");
      const holderPid = Number(readFileSync(`${gate}.reached`, "utf8"));
      const a = live.find((w) => w.child.pid === holderPid);
      const b = live.find((w) => w.child.pid !== holderPid);
      if (!a || !b)
        throw new Error(`the pause point was reached by ${holderPid}, not a live worker`);
      const llmDone = await suite.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outlast.steps WHERE run_id = $1 AND kind = 'llm' AND status = 'succeeded'",
        [run.id],
      );
      expect(llmDone[0]?.n).toBe(3);
      // A's accounting rows go in behind each answer (within ~25 ms, gateway ARCHITECTURE.md):
      // wait for its three, so the kill tests the journal and not that window.
      await until(
        async () => (await runUsage(run.id))?.requests === 3,
        10_000,
        "A's three calls to be accounted",
      );
      expect(sim.stats().ok).toBe(3);

      a.child.kill("SIGKILL");
      await a.exited;
      live = live.filter((w) => w !== a);
      rmSync(gate);

      const { run: done, finished } = await service.waitFor(run.id, 120_000);
      expect(finished).toBe(true);
      expect(done.error).toBeNull();
      expect(done.status).toBe("succeeded");
      expect(done.output).toMatchObject({ text: s.text });
      // The kill cost no attempt: B went on with the first, from the journal.
      expect(done.attempt).toBe(1);

      const stats = sim.stats();
      // 6 model calls; at most one more (a call in flight at the kill).
      expect(stats.ok).toBeGreaterThanOrEqual(6);
      expect(stats.ok).toBeLessThanOrEqual(7);
      // None was in flight at this pause point: exactly the loop's six.
      expect(stats.ok).toBe(6);

      // Each tool body ran once; the one held at the pause point ran on B.
      const lines = readFields(ledger).filter(([runId]) => runId === run.id);
      const ns = lines.map(([, , n]) => Number(n)).sort((x, y) => x - y);
      expect(ns).toEqual(Array.from({ length: s.lookups }, (_, k) => k + 1));
      const gateAt = s.input.gateAt as number;
      for (const [, , n, pid] of lines) {
        expect(Number(pid)).toBe(Number(n) < gateAt ? a.child.pid : b.child.pid);
      }

      // The journal: 6 model calls, a step per tool call, each once.
      const steps = await suite.db.query<{ kind: string; name: string; status: string }>(
        "SELECT kind, name, status FROM outlast.steps WHERE run_id = $1 ORDER BY seq",
        [run.id],
      );
      expect(steps.filter((x) => x.kind === "llm").length).toBe(6);
      expect(steps.filter((x) => x.name === "tool:lookup").length).toBe(s.lookups);
      expect(steps.every((x) => x.status === "succeeded")).toBe(true);

      // The run's usage is what the simulator served, token for token.
      await until(
        async () => (await runUsage(run.id))?.requests === stats.ok,
        10_000,
        "B's calls to be accounted",
      );
      const usage = await runUsage(run.id);
      expect(usage).toMatchObject({
        requests: stats.ok,
        input_tokens: stats.tokens.input,
        output_tokens: stats.tokens.output,
      });
    }, 400_000);
  }

  async function runUsage(runId: string) {
    const rows = await queryUsage(suite.db, { groupBy: ["run"] });
    return rows.find((r) => r.run === runId);
  }
});
