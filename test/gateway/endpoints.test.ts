/**
 * The gateway's other endpoints over real targets: the Responses API (plain and streamed,
 * function tools, over an Anthropic-format target too), embeddings (failover past a target
 * that cannot serve them, cache, accounting) and count_tokens.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { type Simulator, startSimulator } from "../../src/sim/index.js";
import type { SimReplyRequest } from "../../src/sim/types.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { type GatewayServer, resetGatewayTables, serveGateway, simConfig } from "./helpers.js";

let sim: Simulator;
let db: Db;
let gw: GatewayServer | undefined;

const weather = (req: SimReplyRequest) =>
  req.responseSchema !== undefined
    ? { json: true }
    : req.tools.includes("get_weather") && req.toolResults === 0
      ? { toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] }
      : { text: `Sunny (${req.toolResults} tool result).` };

beforeAll(async () => {
  [sim, db] = await Promise.all([
    startSimulator({
      models: [
        { name: "gpt-4o-mini", reply: weather },
        { name: "claude-sonnet-4-5", reply: weather },
      ],
    }),
    openStore({ dataDir: "memory" }),
  ]);
});

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await resetGatewayTables(db);
  sim.reset();
});

afterAll(async () => {
  await sim?.close();
  await db?.close();
});

const config = () =>
  simConfig(sim.url, {
    gateway: {
      aliases: {
        // The Anthropic-format target first: it cannot embed, so it is skipped.
        embed: { targets: ["claude/claude-sonnet-4-5", "sim/text-embedding-3-small"] },
        "claude-only": { targets: ["claude/claude-sonnet-4-5"] },
        "claude-first": { targets: ["claude/claude-sonnet-4-5", "sim/gpt-4o-mini"] },
      },
    },
  });

const tools: OpenAI.Responses.Tool[] = [
  {
    type: "function",
    name: "get_weather",
    description: "Weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    strict: true,
  },
];

for (const model of ["fast", "claude/claude-sonnet-4-5"]) {
  test(`responses API over ${model}: function call, its output, text; plain and streamed`, async () => {
    gw = await serveGateway(db, config());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused" });
    const first = await client.responses.create({ model, input: "Weather in Paris?", tools });
    expect(first.status).toBe("completed");
    const call = first.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ name: "get_weather", arguments: '{"city":"Paris"}' });
    if (call?.type !== "function_call") throw new Error("no function call");

    const input: OpenAI.Responses.ResponseInput = [
      { role: "user", content: "Weather in Paris?" },
      call,
      { type: "function_call_output", call_id: call.call_id, output: "sunny" },
    ];
    const second = await client.responses.create({ model, input, tools });
    expect(second.output_text).toBe("Sunny (1 tool result).");

    const stream = client.responses.stream({ model, input, tools });
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("Sunny (1 tool result).");
    expect(deltas.join("")).toBe("Sunny (1 tool result).");

    const streamedCall = await client.responses
      .stream({ model, input: "Weather in Paris?", tools })
      .finalResponse();
    expect(streamedCall.output.find((o) => o.type === "function_call")).toMatchObject({
      name: "get_weather",
      arguments: '{"city":"Paris"}',
    });

    // Each call's usage as the caller saw it adds up to what the provider counted.
    const stats = sim.stats();
    const told = [first, second, final, streamedCall].map((r) => r.usage);
    expect(told.reduce((n, u) => n + (u?.input_tokens ?? 0), 0)).toBe(stats.tokens.input);
    expect(told.reduce((n, u) => n + (u?.output_tokens ?? 0), 0)).toBe(stats.tokens.output);
    await gw.gateway.flush();
    expect((await gw.gateway.usage())[0]).toMatchObject({
      requests: 4,
      input_tokens: stats.tokens.input,
      output_tokens: stats.tokens.output,
    });
  });
}

test("responses API: stored state is refused with a stable code, built-in tools too", async () => {
  gw = await serveGateway(db, config());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const refused = await client.responses
    .create({ model: "fast", input: "hi", previous_response_id: "resp_1" })
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_NO_STORED_RESPONSES" });
  const get = await client.responses.retrieve("resp_1").catch((e: unknown) => e);
  expect(get).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_NO_STORED_RESPONSES" });
  const builtIn = await client.responses
    .create({ model: "fast", input: "hi", tools: [{ type: "web_search" }] })
    .catch((e: unknown) => e);
  expect(builtIn).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_UNSUPPORTED" });
  expect(sim.stats().requests).toBe(0);
});

test("embeddings: an Anthropic-format target is skipped, not failed; cached; accounted", async () => {
  gw = await serveGateway(db, config());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const res = await client.embeddings.create(
    { model: "embed", input: ["red apple pie", "green apple pie", "tax return"] },
    { headers: { "x-outlast-cache": "60", "x-outlast-feature": "search" } },
  );
  const [a, b, c] = res.data.map((d) => d.embedding);
  const cos = (x: number[] = [], y: number[] = []) => x.reduce((s, v, i) => s + v * (y[i] ?? 0), 0);
  expect(cos(a, b)).toBeGreaterThan(cos(a, c) + 0.3);
  expect(res.usage.prompt_tokens).toBe(sim.stats().tokens.input);

  const again = await client.embeddings
    .create(
      { model: "embed", input: ["red apple pie", "green apple pie", "tax return"] },
      { headers: { "x-outlast-cache": "60", "x-outlast-feature": "search" } },
    )
    .withResponse();
  expect(again.response.headers.get("x-outlast-cache")).toBe("hit");
  expect(again.data.data[0]?.embedding).toEqual(a);
  expect(sim.stats().requests).toBe(1);

  const only = await client.embeddings
    .create({ model: "claude-only", input: "x" })
    .catch((e: unknown) => e);
  expect(only).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_UNSUPPORTED" });
  expect(sim.stats().requests).toBe(1);

  await gw.gateway.flush();
  const rows = await gw.gateway.usage({ groupBy: ["feature", "outcome"] });
  expect(rows).toContainEqual(
    expect.objectContaining({
      feature: "search",
      outcome: "ok",
      requests: 1,
      input_tokens: res.usage.prompt_tokens,
      output_tokens: 0,
    }),
  );
  expect(rows).toContainEqual(
    expect.objectContaining({ feature: "search", outcome: "cache_hit", requests: 1 }),
  );
});

test("a JSON-schema answer skips Anthropic-format targets, which have no response_format", async () => {
  gw = await serveGateway(db, config());
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const text = {
    format: {
      type: "json_schema" as const,
      name: "w",
      schema: { type: "object", properties: { city: { type: "string" } } },
    },
  };
  const res = await client.responses
    .create({ model: "claude-first", input: "JSON please", text })
    .withResponse();
  expect(res.response.headers.get("x-outlast-target")).toBe("sim/gpt-4o-mini");
  expect(JSON.parse(res.data.output_text)).toEqual({ city: "city" });
  // Without JSON asked for, the first target serves it.
  const plain = await client.responses
    .create({ model: "claude-first", input: "hi" })
    .withResponse();
  expect(plain.response.headers.get("x-outlast-target")).toBe("claude/claude-sonnet-4-5");
  const only = await client.responses
    .create({ model: "claude-only", input: "JSON please", text })
    .catch((e: unknown) => e);
  expect(only).toMatchObject({ status: 400, code: "OUTLAST_GATEWAY_UNSUPPORTED" });
  expect(sim.stats().requests).toBe(2);
});

test("responses and embeddings are held by limits like chat: a tenant's rpm cap answers 429", async () => {
  gw = await serveGateway(db, {
    ...config(),
    gateway: { ...config().gateway, caps: { tenant: { "*": { rpm: 1 } } } },
  });
  const client = new OpenAI({
    baseURL: `${gw.url}/v1`,
    apiKey: "unused",
    maxRetries: 0,
    defaultHeaders: { "x-outlast-wait": "0" },
  });
  const as = (tenant: string) => ({ headers: { "x-outlast-tenant": tenant } });
  await client.responses.create({ model: "fast", input: "one" }, as("r"));
  const second = await client.responses
    .create({ model: "fast", input: "two" }, as("r"))
    .catch((e: unknown) => e);
  expect(second).toMatchObject({ status: 429, code: "OUTLAST_GATEWAY_RATE_LIMITED" });
  expect((second as Error).message).toContain('tenant "r" is over its rpm cap');

  await client.embeddings.create({ model: "embed", input: "one" }, as("e"));
  const again = await client.embeddings
    .create({ model: "embed", input: "two" }, as("e"))
    .catch((e: unknown) => e);
  expect(again).toMatchObject({ status: 429, code: "OUTLAST_GATEWAY_RATE_LIMITED" });
  expect(sim.stats().requests).toBe(2);
});

test("count_tokens counts what the gateway reserves; an unknown model is a 404", async () => {
  gw = await serveGateway(db, config());
  const client = new Anthropic({ baseURL: gw.url, apiKey: "unused", maxRetries: 0 });
  const messages = [{ role: "user" as const, content: "How many tokens is this?" }];
  const counted = await client.messages.countTokens({ model: "fast", messages });
  // The simulator counts a messages call's input the same way: send one and compare.
  await client.messages.create({ model: "claude/claude-sonnet-4-5", max_tokens: 10, messages });
  expect(counted.input_tokens).toBe(sim.stats().tokens.input);
  const unknown = await client.messages
    .countTokens({ model: "nope", messages })
    .catch((e: unknown) => e);
  expect(unknown).toMatchObject({ status: 404 });
});
