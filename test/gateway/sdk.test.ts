/**
 * The official SDKs pointed at the gateway, the simulator in its own process behind it:
 * plain and streaming calls in both wire formats, usage that matches what the provider
 * billed, and the SDKs' own retries on the gateway's 429s.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import {
  type GatewayServer,
  resetGatewayTables,
  type SimProcess,
  serveGateway,
  simConfig,
  startSimProcess,
} from "./helpers.js";

let sim: SimProcess;
let db: Db;
let gw: GatewayServer | undefined;

beforeAll(async () => {
  [sim, db] = await Promise.all([
    startSimProcess(["--latency-ms", "5-15"]),
    openStore({ dataDir: "memory" }),
  ]);
});

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await resetGatewayTables(db);
  await sim.reset();
});

afterAll(async () => {
  await sim?.stop();
  await db?.close();
});

test("openai SDK: plain and streaming; usage stripped unless asked; totals equal the sim's", async () => {
  gw = await serveGateway(db, simConfig(sim.url));
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused" });
  const plain = await client.chat.completions.create({
    model: "fast",
    messages: [{ role: "user", content: "Say hello" }],
    max_tokens: 40,
  });
  expect(plain.choices[0]?.message.content).toMatch(/Simulated reply to: Say hello/);
  expect(plain.usage?.prompt_tokens).toBeGreaterThan(0);

  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of await client.chat.completions.create({
    model: "fast",
    messages: [{ role: "user", content: "Stream please" }],
    stream: true,
  })) {
    chunks.push(c);
  }
  expect(chunks.length).toBeGreaterThan(3);
  // The gateway asked upstream for usage, and the caller, who did not, sees none of it.
  expect(chunks.every((c) => !("usage" in c))).toBe(true);
  expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toMatch(/Stream please/);

  const asked: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of await client.chat.completions.create({
    model: "fast",
    messages: [{ role: "user", content: "With usage" }],
    stream: true,
    stream_options: { include_usage: true },
  })) {
    asked.push(c);
  }
  expect(asked.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);

  const res = await fetch(`${gw.url}/v1/usage`);
  const usage = (await res.json()) as {
    data: { requests: number; input_tokens: number; output_tokens: number }[];
  };
  const stats = await sim.stats();
  expect(usage.data[0]).toMatchObject({
    requests: 3,
    input_tokens: stats.tokens.input,
    output_tokens: stats.tokens.output,
  });
});

test("anthropic SDK: plain and streaming; cumulative output_tokens counted once", async () => {
  gw = await serveGateway(db, simConfig(sim.url));
  const client = new Anthropic({ baseURL: gw.url, authToken: "unused", apiKey: null });
  const msg = await client.messages.create({
    model: "claude/claude-sonnet-4-5",
    max_tokens: 64,
    messages: [{ role: "user", content: "Hello Claude" }],
  });
  expect(msg.content[0]).toMatchObject({ type: "text" });
  const stream = client.messages.stream({
    model: "claude/claude-sonnet-4-5",
    max_tokens: 64,
    messages: [{ role: "user", content: "Stream, Claude" }],
  });
  const final = await stream.finalMessage();
  expect(final.usage.output_tokens).toBeGreaterThan(1);

  await gw.gateway.flush();
  const [row] = await gw.gateway.usage();
  const stats = await sim.stats();
  // The sim's message_start carries output_tokens: 1 and message_delta the total: a
  // gateway adding them would count one token too many per stream.
  expect(row).toMatchObject({
    requests: 2,
    input_tokens: stats.tokens.input,
    output_tokens: stats.tokens.output,
  });
  expect(row?.output_tokens).toBe(msg.usage.output_tokens + final.usage.output_tokens);
});

test("openai SDK retries the gateway's 429 after its Retry-After and then succeeds", async () => {
  // TPM 600 = 10 tokens/s; each call reserves ~10 input + 20 output tokens.
  gw = await serveGateway(
    db,
    simConfig(sim.url, {
      providers: {
        sim: { baseUrl: `${sim.url}/v1`, apiKey: "k429", limits: { "*": { tpm: 600 } } },
      },
    }),
  );
  let requests = 0;
  const statuses: number[] = [];
  const client = new OpenAI({
    baseURL: `${gw.url}/v1`,
    apiKey: "unused",
    maxRetries: 2,
    defaultHeaders: { "x-outlast-wait": "0" },
    fetch: async (url, init) => {
      requests++;
      const res = await fetch(url, init);
      statuses.push(res.status);
      return res;
    },
  });
  const body = {
    model: "fast",
    messages: [{ role: "user" as const, content: "x" }],
    max_tokens: 20,
  };
  // Drain the bucket (capacity 600 tokens).
  while (true) {
    const raw = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-outlast-wait": "0" },
      body: JSON.stringify(body),
    });
    if (raw.status === 429) {
      const ms = Number(raw.headers.get("retry-after-ms"));
      expect(ms).toBeGreaterThan(0);
      expect(Number(raw.headers.get("retry-after"))).toBe(Math.ceil(ms / 1000));
      expect(raw.headers.get("x-ratelimit-limit-tokens")).toBe("600");
      expect(raw.headers.get("x-ratelimit-remaining-tokens")).toBe("0");
      const err = (await raw.json()) as { error: { code: string; type: string } };
      expect(err.error).toMatchObject({
        code: "OUTLAST_GATEWAY_RATE_LIMITED",
        type: "rate_limit_exceeded",
      });
      break;
    }
    expect(raw.status).toBe(200);
    await raw.text();
  }
  const t0 = Date.now();
  // The drain leaves up to one call's reservation (~30 tokens) in the bucket; asking for
  // 40 output tokens (~50 in all) makes the wait at least 2 s whatever was left. With the
  // drain's own size the wait could be anything from 0 to 3 s, and in some runs was
  // shorter than the 0.7 s below.
  const r = await client.chat.completions.create({ ...body, max_tokens: 40 });
  expect(r.choices[0]?.message.content).toBeTruthy();
  expect(statuses[0]).toBe(429);
  expect(statuses.at(-1)).toBe(200);
  expect(requests).toBeGreaterThanOrEqual(2);
  // It waited about what Retry-After said (~1-3 s for 10-30 tokens at 10/s), not the SDK's 0.5 s default.
  expect(Date.now() - t0).toBeGreaterThan(700);
  const stats = await sim.stats();
  expect(stats.rateLimited).toBe(0);
});
