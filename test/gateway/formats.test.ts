/**
 * Streams across wire formats: the Anthropic SDK streaming from an OpenAI-format target
 * and the OpenAI SDK streaming from an Anthropic-format one — text, tool calls, stop
 * reasons, and usage billed exactly as the simulator counted it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
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

/** A tool call until the conversation carries its result, then an answer that uses it. */
const weather = (req: SimReplyRequest) =>
  req.tools.includes("get_weather") && req.toolResults === 0
    ? { toolCalls: [{ name: "get_weather", arguments: { city: "Paris", unit: "c" } }] }
    : { text: `It is sunny in Paris (after ${req.toolResults} tool result).` };

beforeAll(async () => {
  [sim, db] = await Promise.all([
    startSimulator({
      models: [
        { name: "gpt-4o-mini", reply: weather, latencyMs: [5, 10] },
        { name: "claude-sonnet-4-5", reply: weather, latencyMs: [5, 10] },
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

async function billed() {
  await gw?.gateway.flush();
  const [row] = (await gw?.gateway.usage()) ?? [];
  return row;
}

test("anthropic SDK streams from an OpenAI-format target: tool_use, input_json_delta, text, usage", async () => {
  gw = await serveGateway(db, simConfig(sim.url));
  const client = new Anthropic({ baseURL: gw.url, apiKey: "unused" });
  const tools = [
    {
      name: "get_weather",
      description: "Weather in a city",
      input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
    },
  ];
  const stream = client.messages.stream({
    model: "fast",
    max_tokens: 200,
    tools,
    messages: [{ role: "user", content: "Weather in Paris?" }],
  });
  const jsonDeltas: string[] = [];
  stream.on("inputJson", (delta) => jsonDeltas.push(delta));
  const first = await stream.finalMessage();
  expect(first.stop_reason).toBe("tool_use");
  const use = first.content.find((b) => b.type === "tool_use");
  expect(use).toMatchObject({ name: "get_weather", input: { city: "Paris", unit: "c" } });
  expect(jsonDeltas.join("")).toBe('{"city":"Paris","unit":"c"}');

  const second = await client.messages
    .stream({
      model: "fast",
      max_tokens: 200,
      tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: use?.id ?? "", content: "sunny, 21 C" }],
        },
      ],
    })
    .finalMessage();
  expect(second.stop_reason).toBe("end_turn");
  expect(second.content).toHaveLength(1);
  expect(second.content[0]).toMatchObject({
    type: "text",
    text: "It is sunny in Paris (after 1 tool result).",
  });

  const stats = sim.stats();
  // What the caller was told and what was billed are what the provider counted.
  expect(first.usage.input_tokens + second.usage.input_tokens).toBe(stats.tokens.input);
  expect(first.usage.output_tokens + second.usage.output_tokens).toBe(stats.tokens.output);
  expect(await billed()).toMatchObject({
    requests: 2,
    ok: 2,
    input_tokens: stats.tokens.input,
    output_tokens: stats.tokens.output,
  });
});

test("openai SDK streams from an Anthropic-format target: tool_calls deltas, finish_reason, usage chunk", async () => {
  gw = await serveGateway(db, simConfig(sim.url));
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused" });
  const tools = [
    {
      type: "function" as const,
      function: { name: "get_weather", parameters: { type: "object", properties: {} } },
    },
  ];
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of await client.chat.completions.create({
    model: "claude/claude-sonnet-4-5",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools,
    stream: true,
    stream_options: { include_usage: true },
  })) {
    chunks.push(c);
  }
  const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
  expect(calls[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_weather" } });
  expect(calls[0]?.id).toMatch(/^toolu_/);
  expect(calls.map((c) => c.function?.arguments ?? "").join("")).toBe(
    '{"city":"Paris","unit":"c"}',
  );
  expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
    "tool_calls",
  );
  // The usage chunk the caller asked for says what the provider counted for this call.
  const first = sim.stats().tokens;
  expect(chunks.at(-1)?.usage).toMatchObject({
    prompt_tokens: first.input,
    completion_tokens: first.output,
  });

  // The helper's stream accumulates the same deltas into a message.
  const runner = client.chat.completions.stream({
    model: "claude/claude-sonnet-4-5",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: calls[0]?.id ?? "",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: calls[0]?.id ?? "", content: "sunny" },
    ],
    tools,
  });
  const done = await runner.finalChatCompletion();
  expect(done.choices[0]?.message.content).toBe("It is sunny in Paris (after 1 tool result).");
  expect(done.choices[0]?.finish_reason).toBe("stop");
  // Not asked for: no usage chunk on the second stream.
  expect(done.usage).toBeUndefined();

  const stats = sim.stats();
  expect(await billed()).toMatchObject({
    requests: 2,
    ok: 2,
    input_tokens: stats.tokens.input,
    output_tokens: stats.tokens.output,
  });
});

test("a translated stream that breaks ends with an error event in the caller's format, not a clean stop", async () => {
  // A provider that sends two chunks of an OpenAI stream and then drops the connection.
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = (delta: object) =>
        `data: ${JSON.stringify({ id: "c1", choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
      res.write(chunk({ role: "assistant", content: "" }) + chunk({ content: "Half an" }));
      setTimeout(() => res.socket?.destroy(), 20);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  try {
    const port = (upstream.address() as AddressInfo).port;
    gw = await serveGateway(db, {
      providers: { broken: { baseUrl: `http://127.0.0.1:${port}/v1`, timeoutMs: 5_000 } },
      models: { fast: "broken/m" },
    });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "fast",
        max_tokens: 50,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    const text = await res.text();
    expect(text).toContain('"text":"Half an"');
    expect(text).toMatch(/event: error\ndata: .*OUTLAST_GATEWAY_STREAM_INTERRUPTED/);
    expect(text).not.toContain("message_stop");

    const client = new Anthropic({ baseURL: gw.url, apiKey: "unused", maxRetries: 0 });
    const failed = await client.messages
      .stream({ model: "fast", max_tokens: 50, messages: [{ role: "user", content: "hi" }] })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    // The Responses API's stream ends the same way: error, then response.failed.
    const responses = await fetch(`${gw.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fast", stream: true, input: "hi" }),
    });
    const events = [...(await responses.text()).matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events).toContain("response.output_text.delta");
    expect(events.slice(-2)).toEqual(["error", "response.failed"]);
    expect(events).not.toContain("response.completed");

    await gw.gateway.flush();
    const rows = await gw.gateway.usage({ groupBy: ["outcome"] });
    expect(rows).toEqual([expect.objectContaining({ outcome: "upstream_error", requests: 3 })]);
  } finally {
    await new Promise((r) => upstream.close(r));
  }
});
