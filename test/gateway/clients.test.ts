import { createOpenAI } from "@ai-sdk/openai";
import Anthropic from "@anthropic-ai/sdk";
import { tool as langchainTool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import {
  Agent,
  tool as agentTool,
  run,
  setDefaultOpenAIClient,
  setTracingDisabled,
} from "@openai/agents";
import { generateText, jsonSchema, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { beforeAll, expect, test } from "vitest";
import { z } from "zod";
import type { SimStats } from "../../src/sim/index.js";
import { devSuite } from "../helpers/processes.js";

const suite = devSuite("test/fixtures/clients.config.ts");
let url: string;
let simUrl: string;
/** Calls made per feature, to compare with /v1/usage. */
const made = new Map<string, number>();

/** Paths a client requested, to show which API it used. */
const paths: string[] = [];
const recording: typeof fetch = (input, init) => {
  paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
  return fetch(input, init);
};

const tag = (feature: string, calls: number) => {
  made.set(feature, (made.get(feature) ?? 0) + calls);
  return { "x-outlast-feature": feature, "x-outlast-tenant": `tenant-${feature}` };
};

const weatherSchema = {
  type: "object" as const,
  properties: { city: { type: "string" as const } },
  required: ["city"],
  additionalProperties: false,
};

beforeAll(() => {
  url = suite.url;
  simUrl = suite.simUrl;
});

const simStats = async () => (await (await fetch(`${simUrl}/stats`)).json()) as SimStats;

test("@anthropic-ai/sdk: messages.create with a tool round, messages.stream, countTokens", async () => {
  const headers = tag("anthropic", 4);
  const client = new Anthropic({ baseURL: url, apiKey: "dev", defaultHeaders: headers });
  const tools = [{ name: "get_weather", input_schema: weatherSchema }];
  const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
  const first = await client.messages.create({ model: "fast", max_tokens: 200, tools, messages });
  const use = first.content.find((b) => b.type === "tool_use");
  expect(first.stop_reason).toBe("tool_use");
  expect(use).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
  messages.push(
    { role: "assistant", content: first.content },
    {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: use?.id ?? "", content: "21 C" }],
    },
  );
  const second = await client.messages.create({ model: "fast", max_tokens: 200, tools, messages });
  expect(second.content[0]).toMatchObject({ type: "text", text: "It is sunny in Paris." });

  const streamed = await client.messages
    .stream({ model: "fast", max_tokens: 200, tools, messages: messages.slice(0, 1) })
    .finalMessage();
  expect(streamed.content.find((b) => b.type === "tool_use")).toMatchObject({
    input: { city: "Paris" },
  });

  const counted = await client.messages.countTokens({ model: "fast", messages });
  expect(counted.input_tokens).toBeGreaterThan(10);
});

test("a stream translated across formats is billed the tokens the simulator counted", async () => {
  await fetch(`${simUrl}/stats/reset`, { method: "POST" });
  const headers = tag("translated-stream", 1);
  const client = new Anthropic({ baseURL: url, apiKey: "dev", defaultHeaders: headers });
  // `fast` is an OpenAI-format target: this Anthropic stream is translated both ways.
  const msg = await client.messages
    .stream({ model: "fast", max_tokens: 300, messages: [{ role: "user", content: "Count me" }] })
    .finalMessage();
  expect(msg.content[0]).toMatchObject({ text: "Hello! You said: Count me" });
  const sim = (await simStats()).tokens;
  expect(msg.usage).toMatchObject({ input_tokens: sim.input, output_tokens: sim.output });
  const row = (await usage()).find((r) => r.feature === "translated-stream");
  expect(row).toMatchObject({ input_tokens: sim.input, output_tokens: sim.output });
});

test("openai SDK: chat plain and streamed, responses plain and streamed, embeddings", async () => {
  const headers = tag("openai", 6);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "dev", defaultHeaders: headers });
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: "function", function: { name: "get_weather", parameters: weatherSchema } },
  ];
  const plain = await client.chat.completions.create({
    model: "fast",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools,
  });
  expect(plain.choices[0]?.message.tool_calls?.[0]).toMatchObject({
    function: { name: "get_weather", arguments: '{"city":"Paris"}' },
  });
  const streamed = await client.chat.completions
    .stream({ model: "fast", messages: [{ role: "user", content: "Hi there" }] })
    .finalChatCompletion();
  expect(streamed.choices[0]?.message.content).toBe("Hello! You said: Hi there");

  const response = await client.responses.create({ model: "fast", input: "Hi responses" });
  expect(response.output_text).toBe("Hello! You said: Hi responses");
  const responseTools: OpenAI.Responses.Tool[] = [
    { type: "function", name: "get_weather", parameters: weatherSchema, strict: true },
  ];
  const streamedResponse = await client.responses
    .stream({ model: "fast", input: "Weather in Paris?", tools: responseTools })
    .finalResponse();
  expect(streamedResponse.output[0]).toMatchObject({
    type: "function_call",
    name: "get_weather",
    arguments: '{"city":"Paris"}',
  });

  const JSON_FORMAT = {
    type: "json_schema" as const,
    name: "weather",
    schema: { ...weatherSchema },
    strict: true,
  };
  const structured = await client.responses.create({
    model: "fast",
    input: "JSON please",
    text: { format: JSON_FORMAT },
  });
  expect(JSON.parse(structured.output_text)).toEqual({ city: "city" });

  const emb = await client.embeddings.create({
    model: "embed",
    input: ["sunny weather in Paris", "sunny weather in Rome", "quarterly tax filing"],
  });
  const [a, b, c] = emb.data.map((d) => d.embedding);
  const cos = (x: number[] = [], y: number[] = []) => x.reduce((s, v, i) => s + v * (y[i] ?? 0), 0);
  expect(cos(a, b)).toBeGreaterThan(cos(a, c) + 0.3);
});

test("Vercel AI SDK: openai('fast') on the Responses API and openai.chat('fast'), with a tool", async () => {
  const headers = tag("ai-sdk", 6);
  const openai = createOpenAI({ baseURL: `${url}/v1`, apiKey: "dev", headers, fetch: recording });
  paths.length = 0;
  const weather = tool({
    description: "Weather in a city",
    inputSchema: jsonSchema<{ city: string }>(weatherSchema),
    execute: async ({ city }) => `sunny in ${city}`,
  });
  const viaResponses = await generateText({
    model: openai("fast"),
    prompt: "Weather in Paris?",
    tools: { get_weather: weather },
    stopWhen: stepCountIs(3),
  });
  expect(viaResponses.steps[0]?.toolCalls[0]).toMatchObject({
    toolName: "get_weather",
    input: { city: "Paris" },
  });
  expect(viaResponses.text).toBe("It is sunny in Paris.");
  expect(paths).toEqual(["/v1/responses", "/v1/responses"]);

  const viaChat = streamText({
    model: openai.chat("fast"),
    prompt: "Weather in Paris?",
    tools: { get_weather: weather },
    stopWhen: stepCountIs(3),
  });
  expect(await viaChat.text).toBe("It is sunny in Paris.");
  expect((await viaChat.steps).length).toBe(2);
  expect(paths.slice(2)).toEqual(["/v1/chat/completions", "/v1/chat/completions"]);

  // Streamed on the Responses API: its events parsed by the AI SDK's own schemas.
  const streamedResponses = streamText({
    model: openai("fast"),
    prompt: "Weather in Paris?",
    tools: { get_weather: weather },
    stopWhen: stepCountIs(3),
  });
  expect(await streamedResponses.text).toBe("It is sunny in Paris.");
  const usage = await streamedResponses.totalUsage;
  expect(usage.inputTokens).toBeGreaterThan(0);
  expect(usage.outputTokens).toBeGreaterThan(0);
  expect(paths.slice(4)).toEqual(["/v1/responses", "/v1/responses"]);
});

test("LangChain ChatOpenAI: a plain call and a tool call", async () => {
  const headers = tag("langchain", 2);
  const model = new ChatOpenAI({
    model: "fast",
    apiKey: "dev",
    configuration: { baseURL: `${url}/v1`, defaultHeaders: headers },
  });
  const hello = await model.invoke("Hello LangChain");
  expect(hello.content).toBe("Hello! You said: Hello LangChain");
  const weather = langchainTool(async ({ city }: { city: string }) => `sunny in ${city}`, {
    name: "get_weather",
    description: "Weather in a city",
    schema: z.object({ city: z.string() }),
  });
  const called = await model.bindTools([weather]).invoke("Weather in Paris?");
  expect(called.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Paris" } });
});

test("@openai/agents on its default Responses model, model 'fast', running a tool", async () => {
  const headers = tag("agents", 4);
  setTracingDisabled(true);
  setDefaultOpenAIClient(
    new OpenAI({ baseURL: `${url}/v1`, apiKey: "dev", defaultHeaders: headers, fetch: recording }),
  );
  paths.length = 0;
  let ran = 0;
  const agent = new Agent({
    name: "weather",
    instructions: "Answer with the weather.",
    model: "fast",
    tools: [
      agentTool({
        name: "get_weather",
        description: "Weather in a city",
        parameters: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          ran++;
          return `sunny in ${city}`;
        },
      }),
    ],
  });
  const result = await run(agent, "Weather in Paris?");
  expect(ran).toBe(1);
  expect(result.finalOutput).toBe("It is sunny in Paris.");
  // Its default model path: the Responses API.
  expect(paths).toEqual(["/v1/responses", "/v1/responses"]);

  // Streamed, the same run on the Responses API's event stream.
  const streamed = await run(agent, "Weather in Paris?", { stream: true });
  let text = "";
  for await (const chunk of streamed.toTextStream()) text += chunk;
  await streamed.completed;
  expect(text).toBe("It is sunny in Paris.");
  expect(streamed.finalOutput).toBe("It is sunny in Paris.");
  expect(ran).toBe(2);
});

test("dev answers an unknown model with production's 404, naming the aliases", async () => {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-5", messages: [{ role: "user", content: "hi" }] }),
  });
  expect(res.status).toBe(404);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("OUTLAST_GATEWAY_UNKNOWN_MODEL");
  expect(body.error.message).toMatch(/fast, smart, embed/);
});

interface Row {
  feature: string | null;
  tenant: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
}

async function usage(): Promise<Row[]> {
  const res = await fetch(`${url}/v1/usage?group_by=feature,tenant`);
  return ((await res.json()) as { data: Row[] }).data;
}

test("/v1/usage attributes every call to the feature and tenant it was sent with", async () => {
  const rows = await usage();
  const byFeature = Object.fromEntries(
    rows.filter((r) => r.feature !== null).map((r) => [r.feature, r]),
  );
  for (const [feature, calls] of made) {
    expect(byFeature[feature], feature).toMatchObject({
      tenant: `tenant-${feature}`,
      requests: calls,
    });
  }
  // Nothing else: no call went unattributed (the 404 above never reached a target).
  expect(rows.length).toBe(made.size);
});
