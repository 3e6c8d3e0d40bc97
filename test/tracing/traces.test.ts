import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import type { Simulator } from "../../src/sim/index.js";
import { startSimulator } from "../../src/sim/index.js";
import { Repo } from "../../src/store/repo.js";
import { type RunningSystem, startSystem } from "../../src/system/start.js";
import { createLogger, silentLogger } from "../../src/util/log.js";
import { agents, providers as fixtureProviders, models } from "../fixtures/tracing.config.js";
import { processSuite, spawnCli, until } from "../helpers/processes.js";
import { type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.js";

/**
 * Traces end to end on PostgreSQL: a local OTLP/HTTP receiver gets a run's span tree
 * (run → attempt → step → model call, GenAI attributes), a run started in this process and
 * finished by a worker process has one trace, and a `traceparent` at submit is the run's
 * parent. The provider is the simulator behind a proxy that records the `traceparent`
 * each call carries.
 */
const CONFIG = "test/fixtures/tracing.config.ts";
const KEY = "tracing-test-key-0123456789";
const suite = processSuite();
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let sim: Simulator;
let proxy: Server;
let proxyUrl: string;
/** The `traceparent` of every call the provider received. */
const providerTraceparents: (string | undefined)[] = [];
/** Webhooks received: event type and traceparent. */
const hooks: { type: string; traceparent: string | undefined }[] = [];
let hookServer: Server;
let hookUrl: string;
let system: RunningSystem | undefined;
let api: string;
const savedEnv = { ...process.env };

/** Passes every request to the simulator, noting its traceparent. */
function startProxy(target: string): Promise<Server> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    providerTraceparents.push(req.headers.traceparent as string | undefined);
    const up = request(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(up);
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  sim = await startSimulator({ port: 0, models: [{ name: "gpt-4o-mini" }] });
  proxy = await startProxy(sim.url);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  hookServer = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const type = (JSON.parse(body) as { type: string }).type;
      hooks.push({ type, traceparent: req.headers.traceparent as string | undefined });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
  // What an operator sets; the exporter reads them when tracing starts.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_BSP_SCHEDULE_DELAY = "50";
  process.env.OTEL_SERVICE_NAME = "outlast-test";
  process.env.OTEL_RESOURCE_ATTRIBUTES = "outlast.test.process=first";
  process.env.OUTLAST_TEST_PROVIDER_URL = proxyUrl;
  // The fixture's providers were read at import, before the URL was known.
  const providers = { sim: { ...fixtureProviders.sim, baseUrl: `${proxyUrl}/v1` } };
  const config = resolveConfig(
    {
      agents,
      providers,
      models,
      database: { url: suite.url },
      api: { apiKey: KEY },
      webhooks: { allowPrivateAddresses: "loopback" },
    },
    "tracing.test",
  );
  system = await startSystem({
    config,
    log: process.env.TRACE_TEST_LOG ? createLogger({ level: "debug" }) : silentLogger,
    api: { port: 0, host: "127.0.0.1", apiKey: KEY },
    worker: { concurrency: 4 },
  });
  api = system.apiUrl ?? "";
});

afterAll(async () => {
  await system?.stop(0);
  process.env = savedEnv;
  await new Promise((r) => proxy?.close(r));
  await new Promise((r) => hookServer?.close(r));
  await sim?.close();
  await receiver?.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${api}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
  return (await res.json()) as Record<string, unknown>;
}

const spansOf = (runId: string) =>
  receiver.spans.filter((s) => s.attributes["outlast.run.id"] === runId);
const one = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0] as ReceivedSpan;
};

describe("tracing", () => {
  it("exports a run's span tree with the GenAI attributes, under the traceparent given at submit", async () => {
    const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpan = "00f067aa0ba902b7";
    const run = await post(
      "/v1/runs?wait=20",
      { agent: "traced", input: {}, webhook: { url: hookUrl } },
      { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    );
    expect(run.status).toBe("succeeded");
    expect(run.trace_id).toBe(callerTrace);
    const id = run.id as string;
    await until(() => spansOf(id).some((s) => s.name === "run traced"), 10_000, "the run's span");

    const spans = spansOf(id);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([callerTrace]));
    const runSpan = one(spans, "run traced");
    const attempt = one(spans, "attempt 1");
    const prepare = one(spans, "step prepare");
    const llmStep = one(spans, "step llm:fast");
    const model = one(spans, "chat fast");

    // The tree: caller → run → attempt → steps → model call.
    expect(runSpan.parentSpanId).toBe(callerSpan);
    expect(attempt.parentSpanId).toBe(runSpan.spanId);
    expect(prepare.parentSpanId).toBe(attempt.spanId);
    expect(llmStep.parentSpanId).toBe(attempt.spanId);
    expect(model.parentSpanId).toBe(llmStep.spanId);

    // The run's span starts when the run was submitted, and ends when it finished.
    expect(runSpan.startMs).toBe(Date.parse(run.created_at as string));
    expect(runSpan.endMs).toBeGreaterThanOrEqual(attempt.endMs - 5);
    expect(runSpan.attributes).toMatchObject({
      "outlast.agent": "traced",
      "outlast.run.status": "succeeded",
      "outlast.run.attempts": 1,
    });
    expect(runSpan.resource).toMatchObject({
      "service.name": "outlast-test",
      "outlast.test.process": "first",
    });

    // The model call: GenAI semantic conventions, a client span.
    expect(model.kind).toBe(3);
    expect(model.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.system": "openai",
      "gen_ai.request.model": "fast",
      "gen_ai.response.model": "gpt-4o-mini",
      "gen_ai.request.max_tokens": 16,
      "gen_ai.request.temperature": 0.2,
      "outlast.gateway.provider": "sim",
      "outlast.agent": "traced",
    });
    const input = model.attributes["gen_ai.usage.input_tokens"] as number;
    const output = model.attributes["gen_ai.usage.output_tokens"] as number;
    expect(input).toBeGreaterThan(0);
    expect(output).toBeGreaterThan(0);
    // The same tokens the gateway's accounting recorded for the run.
    const [row] = await suite.db.query<{ i: number; o: number }>(
      "SELECT sum(input_tokens)::int AS i, sum(output_tokens)::int AS o FROM outlast.gateway_calls WHERE run_id = $1",
      [id],
    );
    expect([input, output]).toEqual([row?.i, row?.o]);

    // The provider was called with the model call's span as its parent.
    expect(providerTraceparents).toContain(`00-${callerTrace}-${model.spanId}-01`);
    expect(receiver.refused).toEqual([]);

    // The run's webhook carries the trace on: its parent is the delivery's span, a child
    // of the run's span.
    await until(() => hooks.some((h) => h.type === "run.succeeded"), 15_000, "the webhook");
    const hook = hooks.find((h) => h.type === "run.succeeded");
    expect(hook?.traceparent).toMatch(new RegExp(`^00-${callerTrace}-[0-9a-f]{16}-01$`));
    const hookSpanId = hook?.traceparent?.split("-")[2];
    await until(
      () => receiver.spans.some((s) => s.spanId === hookSpanId),
      10_000,
      "the webhook's span",
    );
    const hookSpan = receiver.spans.find((s) => s.spanId === hookSpanId);
    expect(hookSpan).toMatchObject({ name: "webhook run.succeeded", parentSpanId: runSpan.spanId });
  });

  it("keeps one trace for a run started by one process and finished by another", async () => {
    const run = await post("/v1/runs", { agent: "parked", input: {} });
    const id = run.id as string;
    const traceId = run.trace_id as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const repo = new Repo(suite.db);
    await until(
      async () => (await repo.getRun(id))?.status === "waiting",
      20_000,
      "the run to park on its signal",
    );
    // This process stops (its spans flushed); a worker process finishes the run.
    await system?.stop(0);
    system = undefined;
    const second = spawnCli(["worker", "--config", CONFIG], {
      DATABASE_URL: suite.url,
      OTEL_RESOURCE_ATTRIBUTES: "outlast.test.process=second",
    });
    suite.procs.push(second);
    await second.waitFor(/worker started/);
    await repo.sendSignal(id, "go", { n: 7 });
    await until(
      async () => (await repo.getRun(id))?.status === "succeeded",
      20_000,
      "the second process to finish the run",
    );
    second.child.kill("SIGTERM");
    await second.exited;

    const spans = spansOf(id);
    const runSpans = spans.filter((s) => s.name === "run parked");
    expect(runSpans).toHaveLength(1);
    const runSpan = runSpans[0] as ReceivedSpan;
    expect(runSpan.resource["outlast.test.process"]).toBe("second");
    expect(runSpan.parentSpanId).toBe("");
    expect(runSpan.startMs).toBe(Date.parse(run.created_at as string));
    // Every span of the run, from either process, is in the run's one trace.
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    const attempts = spans.filter((s) => s.name === "attempt 1");
    expect(attempts.map((s) => s.resource["outlast.test.process"]).sort()).toEqual([
      "first",
      "second",
    ]);
    for (const a of attempts) expect(a.parentSpanId).toBe(runSpan.spanId);
    const before = one(spans, "step before");
    const after = one(spans, "step after");
    const model = one(spans, "chat fast");
    const firstAttempt = attempts.find((a) => a.resource["outlast.test.process"] === "first");
    const secondAttempt = attempts.find((a) => a.resource["outlast.test.process"] === "second");
    expect(before.parentSpanId).toBe(firstAttempt?.spanId);
    expect(after.parentSpanId).toBe(secondAttempt?.spanId);
    expect(model.resource["outlast.test.process"]).toBe("second");
    expect(spans.find((s) => s.spanId === model.parentSpanId)?.parentSpanId).toBe(
      secondAttempt?.spanId,
    );
  });
});
