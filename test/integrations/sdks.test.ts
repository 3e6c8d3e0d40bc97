/**
 * The AI SDK and the Agents SDK on Outlast, in one process on PostgreSQL with the simulator
 * as the provider: inside an agent every model call is a journaled `llm` entry and every
 * tool call a `tool:<name>` step, with `generateText`, `streamText`, `run` and
 * `run(…, { stream: true })`, handoffs included; outside an agent the same models call the
 * gateway over HTTP, streams streamed. The crash tests are test/integrations/kill.test.ts.
 */
import { Agent, tool as agentTool, Runner, setTracingDisabled } from "@openai/agents";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { GatewayHttpError, outlast } from "../../src/integrations/ai-sdk/index.js";
import { OutlastModelProvider } from "../../src/integrations/openai-agents/index.js";
import { type Simulator, startSimulator } from "../../src/sim/index.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { agentsLoop, aiSdkLoop } from "../fixtures/sdks.config.js";
import { type GatewayServer, serveGateway } from "../gateway/helpers.js";
import { openTestDb } from "../helpers/db.js";
import { sdkScript } from "./script.js";

setTracingDisabled(true);

let sim: Simulator;
let db: Db;
let close: () => Promise<void>;
let gateway: Gateway;
let service: RunService;
let worker: Worker;
let http: GatewayServer;
const agents = [aiSdkLoop, agentsLoop];

beforeAll(async () => {
  sim = await startSimulator({
    models: [{ name: "gpt-4o-mini", reply: sdkScript, latencyMs: [1, 3] }],
  });
  ({ db, close } = await openTestDb("postgres"));
  const config = {
    providers: { sim: { baseUrl: `${sim.url}/v1`, apiKey: "sim-key", timeoutMs: 5_000 } },
    models: { fast: "sim/gpt-4o-mini" },
  };
  gateway = createGateway({ db, log: silentLogger, config });
  await gateway.start();
  http = await serveGateway(db, config);
  service = new RunService(db, agents);
  await service.start();
  worker = new Worker({ db, agents, llm: gateway, pollIntervalMs: 100 });
  await worker.start();
});

afterAll(async () => {
  await worker?.stop(500);
  await service?.stop();
  await gateway?.close();
  await http?.close();
  await sim?.close();
  await close?.();
});

beforeEach(() => sim.reset());

async function runToEnd(agent: string, input: unknown) {
  const { run } = await service.submit({ agent, input });
  const { run: done, finished } = await service.waitFor(run.id, 60_000);
  expect(finished).toBe(true);
  expect(done.error).toBeNull();
  expect(done.status).toBe("succeeded");
  const steps = await db.query<{ kind: string; name: string }>(
    "SELECT kind, name FROM outlast.steps WHERE run_id = $1 ORDER BY seq",
    [run.id],
  );
  return { output: done.output as Record<string, unknown>, steps: steps.map((s) => s.name) };
}

/** model, tool, model, tool, … model: the journal of a loop of `tools` tool calls. */
const loop = (tools: number, model = "llm:fast") => [
  ...Array.from({ length: tools }, () => [model, "tool:lookup"]).flat(),
  model,
];

describe("inside an agent", () => {
  for (const stream of [false, true]) {
    it(`AI SDK ${stream ? "streamText" : "generateText"}: each model call and tool call journaled`, async () => {
      const { output, steps } = await runToEnd("ai-sdk-loop", { stream });
      expect(output).toMatchObject({ text: "done after 5 lookups", steps: 6 });
      if (stream) expect(output.parts).toBeGreaterThan(0);
      expect(steps).toEqual(loop(5));
      expect(sim.stats().ok).toBe(6);
    });

    it(`Agents SDK run${stream ? " streamed" : ""}: each model call and tool call journaled`, async () => {
      const { output, steps } = await runToEnd("agents-loop", { stream });
      expect(output).toMatchObject({ text: "done after 5 lookups", last: "researcher" });
      if (stream) expect(output.events).toBeGreaterThan(6);
      expect(steps).toEqual(loop(5));
      expect(sim.stats().ok).toBe(6);
    });

    it(`Agents SDK handoff${stream ? ", streamed" : ""}: the researcher takes over and its tools are journaled`, async () => {
      const { output, steps } = await runToEnd("agents-loop", { stream, handoff: true });
      expect(output).toMatchObject({ text: "done after 4 lookups", last: "researcher" });
      // The handoff is decided by the first (journaled) model call; it is no step itself.
      expect(steps).toEqual(["llm:fast", ...loop(4)]);
      expect(sim.stats().ok).toBe(6);
    });
  }
});

describe("outside an agent: the gateway over HTTP", () => {
  const lookup = tool({
    description: "Looks a number up",
    inputSchema: jsonSchema<{ n: number }>({
      type: "object",
      properties: { n: { type: "number" } },
      required: ["n"],
    }),
    execute: async ({ n }) => ({ n, value: n * 10 }),
  });

  it("AI SDK generateText and streamText with tools", async () => {
    const model = outlast("fast", { baseURL: http.url, headers: { "x-outlast-feature": "ai" } });
    const r = await generateText({
      model,
      tools: { lookup },
      stopWhen: stepCountIs(10),
      prompt: "loop",
    });
    expect(r.text).toBe("done after 5 lookups");
    expect(r.steps.length).toBe(6);
    expect(r.usage.inputTokens).toBeGreaterThan(0);

    const s = streamText({ model, tools: { lookup }, stopWhen: stepCountIs(10), prompt: "loop" });
    const deltas: string[] = [];
    for await (const part of s.fullStream) if (part.type === "text-delta") deltas.push(part.text);
    expect(deltas.join("")).toBe("done after 5 lookups");
    // Streamed for real: the simulator sends the answer in several chunks.
    expect(deltas.length).toBeGreaterThan(1);
    expect((await s.steps).length).toBe(6);
    expect(sim.stats().ok).toBe(12);
    // Attributed like any HTTP call: the headers the model was made with went along.
    await http.gateway.flush();
    const rows = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outlast.gateway_calls WHERE feature = 'ai'",
    );
    expect(rows[0]?.n).toBe(12);
  });

  it("AI SDK: a gateway refusal is a GatewayHttpError with its status and code", async () => {
    const err = await generateText({
      model: outlast("fast", { baseURL: http.url, headers: { "x-outlast-wait": "soon" } }),
      prompt: "hi",
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayHttpError);
    expect(err).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_INVALID_REQUEST" });
  });

  it("Agents SDK: a Runner on OutlastModelProvider, with a handoff, streamed", async () => {
    let ran = 0;
    const researcher = new Agent({
      name: "researcher",
      tools: [
        agentTool({
          name: "lookup",
          description: "Looks a number up",
          parameters: z.object({ n: z.number() }),
          execute: async ({ n }) => {
            ran++;
            return String(n * 10);
          },
        }),
      ],
    });
    const triage = new Agent({ name: "triage", handoffs: [researcher] });
    const runner = new Runner({ modelProvider: new OutlastModelProvider({ baseURL: http.url }) });
    const r = await runner.run(triage, "handoff: look up four numbers");
    expect(r.finalOutput).toBe("done after 4 lookups");
    expect(r.lastAgent?.name).toBe("researcher");
    expect(ran).toBe(4);

    const s = await runner.run(triage, "handoff: look up four numbers", { stream: true });
    let text = "";
    for await (const chunk of s.toTextStream()) text += chunk;
    await s.completed;
    expect(text).toBe("done after 4 lookups");
    expect(ran).toBe(8);
    expect(sim.stats().ok).toBe(12);
  });
});
