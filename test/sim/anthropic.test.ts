import { encode } from "gpt-tokenizer";
import { afterEach, describe, expect, it } from "vitest";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../src/sim/index.js";
import { claude, parseNamedEvents, post } from "./helpers.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  return sim;
}

const MESSAGES = "/v1/messages";
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const KEY = { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" };

describe("Anthropic messages", () => {
  it("answers 200 with a message, usage and anthropic-ratelimit headers", async () => {
    const s = await start({
      models: [{ name: "claude-x", rpm: 50, itpm: 30_000, otpm: 8_000 }],
    });
    const r = await post(
      s.url,
      MESSAGES,
      claude("claude-x", "Hello there", { system: "Be brief." }),
      KEY,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-x",
      stop_reason: "end_turn",
      stop_sequence: null,
      content: [{ type: "text" }],
    });
    expect(r.body.id).toMatch(/^msg_/);
    expect(r.body.content[0].text.startsWith("Simulated reply to: Hello there")).toBe(true);
    // Message and system text, each with a 3-token overhead, + 3 priming.
    expect(r.body.usage).toEqual({
      input_tokens: encode("Hello there").length + encode("Be brief.").length + 3 + 3 + 3,
      output_tokens: 32,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    const h = r.headers;
    expect(h.get("request-id")).toMatch(/^req_/);
    expect(h.get("anthropic-ratelimit-requests-limit")).toBe("50");
    expect(h.get("anthropic-ratelimit-requests-remaining")).toBe("49");
    expect(h.get("anthropic-ratelimit-requests-reset")).toMatch(RFC3339);
    expect(h.get("anthropic-ratelimit-input-tokens-limit")).toBe("30000");
    expect(h.get("anthropic-ratelimit-input-tokens-remaining")).toBe("30000"); // 29985, rounded
    expect(h.get("anthropic-ratelimit-output-tokens-limit")).toBe("8000");
    expect(h.get("anthropic-ratelimit-output-tokens-remaining")).toBe("8000"); // 7744, rounded
    // tokens-* is the most restrictive token limit in force: output here.
    expect(h.get("anthropic-ratelimit-tokens-limit")).toBe("8000");
    expect(h.get("anthropic-ratelimit-output-tokens-reset")).toMatch(RFC3339);
    const reset = Date.parse(h.get("anthropic-ratelimit-requests-reset")!);
    expect(reset - Date.now()).toBeLessThanOrEqual(3_000); // one request refills in 1.2 s
  });

  it("requires max_tokens and answers malformed requests in Anthropic's shape", async () => {
    const s = await start({});
    const missing = await post(s.url, MESSAGES, {
      model: "c",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "max_tokens: Field required" },
      request_id: missing.headers.get("request-id"),
    });
    const bad = await post(s.url, MESSAGES, "{oops");
    expect(bad.status).toBe(400);
    expect(bad.body.error.type).toBe("invalid_request_error");
    const cases: unknown[] = [
      { max_tokens: 5, messages: [{ role: "user", content: "x" }] },
      { model: "c", max_tokens: 0, messages: [{ role: "user", content: "x" }] },
      { model: "c", max_tokens: 1.5, messages: [{ role: "user", content: "x" }] },
      { model: "c", max_tokens: 5 },
      { model: "c", max_tokens: 5, messages: [{ role: "system", content: "x" }] },
      { model: "c", max_tokens: 5, messages: [{ role: "user", content: 3 }] },
      { model: "c", max_tokens: 5, messages: [{ role: "user", content: "x" }], system: 1 },
      "null",
    ];
    for (const body of cases) {
      const r = await post(s.url, MESSAGES, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.type).toBe("error");
      expect(r.body.error.type).toBe("invalid_request_error");
    }
  });

  it("answers 429 rate_limit_error with retry-after in seconds", async () => {
    const s = await start({ models: [{ name: "c", rpm: 2 }] });
    expect((await post(s.url, MESSAGES, claude("c", "1"), KEY)).status).toBe(200);
    expect((await post(s.url, MESSAGES, claude("c", "2"), KEY)).status).toBe(200);
    const r = await post(s.url, MESSAGES, claude("c", "3"), KEY);
    expect(r.status).toBe(429);
    expect(r.body).toEqual({
      type: "error",
      error: {
        type: "rate_limit_error",
        message: expect.stringMatching(
          /^Number of requests has exceeded your per-minute rate limit/,
        ),
      },
      request_id: expect.stringMatching(/^req_/),
    });
    expect(r.body.request_id).toBe(r.headers.get("request-id"));
    const retry = Number(r.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(29); // one request per 30 s
    expect(retry).toBeLessThanOrEqual(30);
    expect(r.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
  });

  it("splits input and output token limits; output is estimated from max_tokens then corrected", async () => {
    const s = await start({ models: [{ name: "c", itpm: 100_000, otpm: 1_000 }] });
    // Each charges max_tokens 600 against OTPM, then gets 568 back (32 generated).
    for (let i = 0; i < 3; i++) {
      expect((await post(s.url, MESSAGES, claude("c", "hi", { max_tokens: 600 }))).status).toBe(
        200,
      );
    }
    const over = await post(s.url, MESSAGES, claude("c", "hi", { max_tokens: 950 }));
    expect(over.status).toBe(429);
    expect(over.body.error.message).toMatch(/^Number of output tokens has exceeded/);
    expect(over.headers.get("anthropic-ratelimit-output-tokens-remaining")).toBe("1000"); // 904
    const tooBig = await post(s.url, MESSAGES, claude("c", "hi", { max_tokens: 1_001 }));
    expect(tooBig.status).toBe(429);
    expect(tooBig.headers.get("x-should-retry")).toBe("false");
    expect(tooBig.headers.get("retry-after")).toBeNull();
  });

  it("streams the real event sequence with cumulative output_tokens", async () => {
    const s = await start({ defaults: { outputTokens: 12 } });
    const r = await post(s.url, MESSAGES, claude("c", "Stream it", { stream: true }), KEY);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = parseNamedEvents(r.text);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("message_start");
    expect(names.slice(1, 3)).toEqual(["ping", "content_block_start"]);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(new Set(names.slice(3, -3))).toEqual(new Set(["content_block_delta"]));

    const start0 = events[0]!.data.message as {
      usage: { input_tokens: number; output_tokens: number };
    };
    const plain = await post(s.url, MESSAGES, claude("c", "Stream it"), KEY);
    expect(start0.usage.input_tokens).toBe(plain.body.usage.input_tokens);
    expect(start0.usage.output_tokens).toBe(1); // as Anthropic: adding it to the final double counts
    const delta = events.at(-2)!.data as { usage: { output_tokens: number }; delta: unknown };
    expect(delta.usage.output_tokens).toBe(12);
    expect(delta.delta).toEqual({ stop_reason: "end_turn", stop_sequence: null });
    const text = events
      .filter((e) => e.event === "content_block_delta")
      .map((e) => (e.data.delta as { text: string }).text)
      .join("");
    expect(text).toBe(plain.body.content[0].text);

    const cut = parseNamedEvents(
      (await post(s.url, MESSAGES, claude("c", "Stream it", { stream: true, max_tokens: 3 }))).text,
    );
    expect(cut.at(-2)!.data).toMatchObject({
      delta: { stop_reason: "max_tokens" },
      usage: { output_tokens: 3 },
    });
  });

  it("returns tool_use blocks when scripted and tools are given", async () => {
    const s = await start({
      defaults: {
        reply: () => ({
          text: "Let me check.",
          toolCalls: [{ name: "lookup", arguments: { q: "weather" } }],
        }),
      },
    });
    const tools = [{ name: "lookup", input_schema: { type: "object" } }];
    const r = await post(s.url, MESSAGES, claude("c", "Weather?", { tools }));
    expect(r.body.stop_reason).toBe("tool_use");
    expect(r.body.content).toEqual([
      { type: "text", text: "Let me check." },
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_/),
        name: "lookup",
        input: { q: "weather" },
      },
    ]);

    const events = parseNamedEvents(
      (await post(s.url, MESSAGES, claude("c", "Weather?", { tools, stream: true }))).text,
    );
    const toolStart = events.find((e) => e.event === "content_block_start" && e.data.index === 1);
    expect(toolStart?.data.content_block).toMatchObject({
      type: "tool_use",
      name: "lookup",
      input: {},
    });
    const json = events.find((e) => e.event === "content_block_delta" && e.data.index === 1)?.data
      .delta;
    expect(json).toEqual({ type: "input_json_delta", partial_json: '{"q":"weather"}' });
    expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: "tool_use" } });

    const none = await post(
      s.url,
      MESSAGES,
      claude("c", "W?", { tools, tool_choice: { type: "none" } }),
    );
    expect(none.body.stop_reason).toBe("end_turn");
  });

  it("injects 529 overloaded_error", async () => {
    const s = await start({ defaults: { errorRate: 1 } });
    const r = await post(s.url, MESSAGES, claude("c", "hi"));
    expect(r.status).toBe(529);
    expect(r.body).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
  });

  it("limits concurrency with a rate_limit_error", async () => {
    const s = await start({ defaults: { concurrency: 1, latencyMs: [200, 200] } });
    const [a, b] = await Promise.all([
      post(s.url, MESSAGES, claude("c", "a")),
      post(s.url, MESSAGES, claude("c", "b")),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 429]);
    const rejected = a.status === 429 ? a : b;
    expect(rejected.body.error.type).toBe("rate_limit_error");
    expect(rejected.body.error.message).toMatch(/concurrent connections/);
    expect(rejected.headers.get("retry-after")).toBe("1");
  });
});
