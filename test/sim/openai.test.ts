import { afterEach, describe, expect, it } from "vitest";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../src/sim/index.js";
import { chat, parseDataEvents, post, sleep } from "./helpers.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  return sim;
}

const CHAT = "/v1/chat/completions";
const GO_DURATION = /^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$/;

describe("OpenAI chat completions", () => {
  it("answers 200 with the usual body, usage and rate-limit headers", async () => {
    const s = await start({ models: [{ name: "gpt-4o", rpm: 500, tpm: 30_000 }] });
    const r = await post(s.url, CHAT, chat("gpt-4o", "Hello there", { max_tokens: 100 }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      object: "chat.completion",
      model: "gpt-4o",
      choices: [{ index: 0, message: { role: "assistant" }, finish_reason: "stop" }],
    });
    expect(r.body.id).toMatch(/^chatcmpl-/);
    const text: string = r.body.choices[0].message.content;
    expect(text.startsWith("Simulated reply to: Hello there")).toBe(true);
    const { prompt_tokens, completion_tokens, total_tokens } = r.body.usage;
    expect(prompt_tokens).toBe(2 + 3 + 3); // "Hello there" + message overhead + priming
    expect(completion_tokens).toBe(32);
    expect(total_tokens).toBe(prompt_tokens + completion_tokens);

    const h = r.headers;
    expect(h.get("x-ratelimit-limit-requests")).toBe("500");
    expect(h.get("x-ratelimit-remaining-requests")).toBe("499");
    expect(h.get("x-ratelimit-reset-requests")).toBe("120ms");
    expect(h.get("x-ratelimit-limit-tokens")).toBe("30000");
    // Charged at admission: input + max_tokens.
    expect(h.get("x-ratelimit-remaining-tokens")).toBe(String(30_000 - prompt_tokens - 100));
    expect(h.get("x-ratelimit-reset-tokens")).toMatch(GO_DURATION);
    expect(h.get("x-request-id")).toMatch(/^req_/);
    expect(Number(h.get("openai-processing-ms"))).toBeGreaterThanOrEqual(0);
  });

  it("is deterministic and bounded by max_tokens / max_completion_tokens", async () => {
    const s = await start({ defaults: { outputTokens: 50 } });
    const a = await post(s.url, CHAT, chat("any-model", "Same question"));
    const b = await post(s.url, CHAT, chat("any-model", "Same question"));
    expect(a.body.choices[0].message.content).toBe(b.body.choices[0].message.content);
    expect(a.body.usage.completion_tokens).toBe(50);
    const cut = await post(
      s.url,
      CHAT,
      chat("any-model", "Same question", { max_completion_tokens: 7 }),
    );
    expect(cut.body.usage.completion_tokens).toBe(7);
    expect(cut.body.choices[0].finish_reason).toBe("length");
    // Unlimited models send no x-ratelimit headers: there is nothing true to report.
    expect(a.headers.get("x-ratelimit-limit-requests")).toBeNull();
  });

  it("enforces RPM exactly: the 6th request in the window is a 429 with a sensible reset", async () => {
    const s = await start({ models: [{ name: "gpt-4o", rpm: 5 }] });
    for (let i = 0; i < 5; i++) {
      const ok = await post(s.url, CHAT, chat("gpt-4o", `q${i}`));
      expect(ok.status).toBe(200);
      expect(ok.headers.get("x-ratelimit-remaining-requests")).toBe(String(4 - i));
    }
    const r = await post(s.url, CHAT, chat("gpt-4o", "q5"));
    expect(r.status).toBe(429);
    expect(r.body).toEqual({
      error: {
        message: expect.stringMatching(
          /^Rate limit reached for gpt-4o in organization org-sim on requests per min \(RPM\): Limit 5, Used 5, Requested 1\. Please try again in 1\d(\.\d+)?s\.$/,
        ),
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    });
    const retryMs = Number(r.headers.get("retry-after-ms"));
    expect(retryMs).toBeGreaterThan(11_000); // one request refills every 12 s
    expect(retryMs).toBeLessThanOrEqual(12_000);
    expect(r.headers.get("retry-after")).toBe(String(Math.ceil(retryMs / 1000)));
    expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(r.headers.get("x-ratelimit-reset-requests")).toMatch(/^(59|60)(\.\d+)?s$|^1m0s$/);
    expect(r.headers.get("x-should-retry")).toBeNull();
    // Limits are per API key: another key has its own bucket.
    const other = await post(s.url, CHAT, chat("gpt-4o", "q"), { authorization: "Bearer sk-2" });
    expect(other.status).toBe(200);
    // Rejections are not charged: the wait stays as advertised.
    const again = await post(s.url, CHAT, chat("gpt-4o", "q6"));
    expect(again.status).toBe(429);
    expect(Number(again.headers.get("retry-after-ms"))).toBeLessThanOrEqual(retryMs);
  });

  it("charges TPM with input + max_tokens and reconciles with the actual output", async () => {
    const s = await start({ models: [{ name: "m", tpm: 1000 }] });
    const first = await post(s.url, CHAT, chat("m", "hi", { max_tokens: 600 }));
    expect(first.status).toBe(200);
    const input = first.body.usage.prompt_tokens;
    expect(first.headers.get("x-ratelimit-remaining-tokens")).toBe(String(1000 - input - 600));
    // Without reconciling, 600 + 600 would not fit in 1000; the first used only 32.
    const second = await post(s.url, CHAT, chat("m", "hi", { max_tokens: 600 }));
    expect(second.status).toBe(200);
    const remaining = Number(second.headers.get("x-ratelimit-remaining-tokens"));
    expect(remaining).toBeGreaterThanOrEqual(1000 - 2 * input - 32 - 600);
    // A little refill (1000/min: ~17 per second), allowing for a loaded machine.
    expect(remaining).toBeLessThan(1000 - 2 * input - 32 - 600 + 50);
    // ~922 left after two reconciled requests: 7 + 990 does not fit, but could later.
    const third = await post(s.url, CHAT, chat("m", "hi", { max_tokens: 990 }));
    expect(third.status).toBe(429);
    expect(third.body.error.type).toBe("tokens");
    expect(third.body.error.message).toMatch(
      new RegExp(
        `on tokens per min \\(TPM\\): Limit 1000, Used \\d+, Requested ${input + 990}\\. Please try again in \\d+(\\.\\d+)?s\\.$`,
      ),
    );
    // 75 tokens short, refilled at 1000 per minute: 4.5 s at most.
    expect(Number(third.headers.get("retry-after-ms"))).toBeLessThanOrEqual(4_500);
  });

  it("refuses a request larger than the whole TPM limit as not retryable", async () => {
    const s = await start({ models: [{ name: "m", tpm: 500 }] });
    const r = await post(s.url, CHAT, chat("m", "hi", { max_tokens: 1000 }));
    expect(r.status).toBe(429);
    expect(r.headers.get("x-should-retry")).toBe("false");
    expect(r.headers.get("retry-after")).toBeNull();
    expect(r.body.error.code).toBe("rate_limit_exceeded");
    expect(r.body.error.message).toMatch(
      /^Request too large for m in organization org-sim on tokens per min \(TPM\): Limit 500, Requested 1007\. The input or output tokens must be reduced/,
    );
  });

  it("enforces TPD with day wording", async () => {
    const s = await start({ models: [{ name: "m", tpd: 100 }] });
    expect((await post(s.url, CHAT, chat("m", "hi", { max_tokens: 60 }))).status).toBe(200);
    const r = await post(s.url, CHAT, chat("m", "hi", { max_tokens: 90 }));
    expect(r.status).toBe(429);
    expect(r.body.error.message).toMatch(
      /on tokens per day \(TPD\): Limit 100, Used 39, Requested 97\. Please try again in 8h38m2\d/,
    );
  });

  it("limits concurrency with a 429 of type requests", async () => {
    const s = await start({ models: [{ name: "m", concurrency: 2, latencyMs: [300, 300] }] });
    const results = await Promise.all([1, 2, 3].map((i) => post(s.url, CHAT, chat("m", `c${i}`))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const rejected = results.find((r) => r.status === 429)!;
    expect(rejected.body.error.type).toBe("requests");
    expect(rejected.body.error.message).toMatch(
      /on concurrent requests: Limit 2, Used 2, Requested 1/,
    );
    const wait = Number(rejected.headers.get("retry-after-ms"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(300);
    expect((await post(s.url, CHAT, chat("m", "after"))).status).toBe(200);
    expect(s.stats().inFlight).toBe(0);
  });

  it("streams chunks, finish_reason and a final usage chunk when asked", async () => {
    const s = await start({ defaults: { outputTokens: 20 } });
    const body = chat("m", "Stream please", {
      stream: true,
      stream_options: { include_usage: true },
    });
    const r = await post(s.url, CHAT, body);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const { chunks, done } = parseDataEvents(r.text);
    expect(done).toBe(true);
    // biome-ignore lint/suspicious/noExplicitAny: provider JSON
    const all = chunks as any[];
    for (const c of all) expect(c.object).toBe("chat.completion.chunk");
    expect(all[0].choices[0].delta.role).toBe("assistant");
    const text = all.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    const plain = await post(s.url, CHAT, chat("m", "Stream please"));
    expect(text).toBe(plain.body.choices[0].message.content);
    const last = all.at(-1);
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      completion_tokens: 20,
      prompt_tokens: plain.body.usage.prompt_tokens,
    });
    expect(all.at(-2).choices[0].finish_reason).toBe("stop");
    expect(all.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    const noUsage = parseDataEvents(
      (await post(s.url, CHAT, chat("m", "x", { stream: true }))).text,
    );
    // biome-ignore lint/suspicious/noExplicitAny: provider JSON
    expect((noUsage.chunks as any[]).some((c) => "usage" in c)).toBe(false);
  });

  it("spreads stream latency across chunks", async () => {
    const s = await start({ defaults: { latencyMs: [200, 200], outputTokens: 20 } });
    const t0 = performance.now();
    const res = await fetch(`${s.url}${CHAT}`, {
      method: "POST",
      body: JSON.stringify(chat("m", "slow", { stream: true })),
    });
    const reader = res.body!.getReader();
    await reader.read();
    const firstByte = performance.now() - t0;
    while (!(await reader.read()).done) {}
    const total = performance.now() - t0;
    expect(firstByte).toBeLessThan(150);
    expect(total).toBeGreaterThanOrEqual(195);
  });

  it("frees the concurrency slot when a client abandons a stream", async () => {
    const s = await start({
      defaults: { concurrency: 1, latencyMs: [2000, 2000], outputTokens: 50 },
    });
    const ac = new AbortController();
    const res = await fetch(`${s.url}${CHAT}`, {
      method: "POST",
      body: JSON.stringify(chat("m", "long", { stream: true })),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    expect(s.stats().inFlight).toBe(1);
    ac.abort();
    await reader.read().catch(() => undefined);
    await sleep(50);
    expect(s.stats().inFlight).toBe(0);
  });

  it("answers 500 when a reply script throws", async () => {
    const s = await start({
      defaults: {
        reply: () => {
          throw new Error("script bug");
        },
      },
    });
    const r = await post(s.url, CHAT, chat("m", "hi"));
    expect(r.status).toBe(500);
    expect(r.body.error.type).toBe("server_error");
    expect(r.body.error.message).toMatch(/script bug/);
  });

  it("answers with scripted tool calls when the request has tools", async () => {
    const s = await start({
      models: [
        {
          name: "m",
          reply: () => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] }),
        },
      ],
    });
    const tools = [{ type: "function", function: { name: "get_weather", parameters: {} } }];
    const r = await post(s.url, CHAT, chat("m", "Weather?", { tools }));
    const choice = r.body.choices[0];
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Paris"}' },
      },
    ]);
    expect(r.body.usage.completion_tokens).toBeGreaterThan(0);

    const streamed = parseDataEvents(
      (await post(s.url, CHAT, chat("m", "W?", { tools, stream: true }))).text,
    );
    // biome-ignore lint/suspicious/noExplicitAny: provider JSON
    const deltas = (streamed.chunks as any[]).flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({
      index: 0,
      type: "function",
      function: { name: "get_weather" },
    });
    expect(deltas.map((d) => d.function.arguments).join("")).toBe('{"city":"Paris"}');
    // biome-ignore lint/suspicious/noExplicitAny: provider JSON
    expect((streamed.chunks as any[]).at(-1).choices[0].finish_reason).toBe("tool_calls");

    // Without tools in the request, the model answers in text.
    const plain = await post(s.url, CHAT, chat("m", "Weather?"));
    expect(plain.body.choices[0].finish_reason).toBe("stop");
    expect(plain.body.choices[0].message.tool_calls).toBeUndefined();
  });

  it("passes messages and model to the reply script", async () => {
    const seen: unknown[] = [];
    const s = await start({
      defaults: {
        reply: (req) => {
          seen.push(req);
          return { text: "scripted answer" };
        },
      },
    });
    const r = await post(s.url, CHAT, chat("x", "hi"));
    expect(r.body.choices[0].message.content).toBe("scripted answer");
    expect(seen).toEqual([
      {
        model: "x",
        messages: [{ role: "user", content: "hi" }],
        tools: [],
        toolResults: 0,
        responseSchema: undefined,
        lastUserText: "hi",
      },
    ]);
  });

  it("scripts replies from the request: tool results, JSON from the schema, errors", async () => {
    const s = await start({
      defaults: {
        reply: (req) => {
          if (req.lastUserText === "fail")
            return { error: { status: 422, message: "no such city" } };
          if (req.responseSchema) return { json: true };
          if (req.tools.includes("get_weather") && req.toolResults === 0)
            return { toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] };
          return { text: `done after ${req.toolResults} tool result(s)` };
        },
      },
    });
    const tools = [{ type: "function", function: { name: "get_weather", parameters: {} } }];
    const first = await post(s.url, CHAT, chat("m", "Weather?", { tools }));
    const call = first.body.choices[0].message.tool_calls[0];
    expect(call.function).toEqual({ name: "get_weather", arguments: '{"city":"Paris"}' });
    // The same request again gets the same answer: nothing depends on call order.
    const again = await post(s.url, CHAT, chat("m", "Weather?", { tools }));
    expect(again.body.choices[0].message.tool_calls[0].function).toEqual(call.function);
    const followUp = await post(s.url, CHAT, {
      model: "m",
      tools,
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [{ ...call }] },
        { role: "tool", tool_call_id: call.id, content: "sunny" },
      ],
    });
    expect(followUp.body.choices[0].message.content).toBe("done after 1 tool result(s)");

    const schema = {
      type: "object",
      properties: {
        city: { type: "string" },
        temp: { type: "integer", minimum: -50 },
        kind: { enum: ["sunny", "rainy"] },
        tags: { type: "array", items: { $ref: "#/$defs/tag" } },
      },
      $defs: { tag: { type: "object", properties: { on: { type: "boolean" } } } },
    };
    const json = await post(
      s.url,
      CHAT,
      chat("m", "JSON please", {
        response_format: { type: "json_schema", json_schema: { name: "w", schema } },
      }),
    );
    expect(JSON.parse(json.body.choices[0].message.content)).toEqual({
      city: "city",
      temp: -50,
      kind: "sunny",
      tags: [{ on: true }],
    });

    const failed = await post(s.url, CHAT, chat("m", "fail"));
    expect(failed.status).toBe(422);
    expect(failed.body.error).toMatchObject({
      type: "invalid_request_error",
      message: "no such city",
    });
  });

  it("injects 500s with OpenAI's server_error body", async () => {
    const s = await start({ models: [{ name: "m", errorRate: 1, rpm: 10 }] });
    const r = await post(s.url, CHAT, chat("m", "hi"));
    expect(r.status).toBe(500);
    expect(r.body.error).toMatchObject({ type: "server_error", param: null, code: null });
    expect(r.body.error.message).toMatch(/^The server had an error/);
    expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("9");
    expect(s.stats().errors).toBe(1);
  });

  it("injects errors at the configured rate, reproducibly with a seed", async () => {
    const run = async () => {
      const s = await startSimulator({ seed: 42, defaults: { errorRate: 0.3 } });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await post(s.url, CHAT, chat("m", "hi"))).status);
      await s.close();
      return statuses;
    };
    const a = await run();
    expect(a).toEqual(await run());
    const errors = a.filter((s) => s === 500).length;
    expect(errors).toBeGreaterThan(3);
    expect(errors).toBeLessThan(25);
  });

  it("holds a timed-out request until the client gives up, then frees its slot", async () => {
    const s = await start({ models: [{ name: "m", timeoutRate: 1, concurrency: 1 }] });
    await expect(
      post(s.url, CHAT, chat("m", "hi"), {}, AbortSignal.timeout(200)),
    ).rejects.toThrow();
    await sleep(50);
    expect(s.stats()).toMatchObject({ timeouts: 1, inFlight: 0 });
  });

  it("applies latency before answering", async () => {
    const s = await start({ defaults: { latencyMs: [120, 150] } });
    const t0 = performance.now();
    expect((await post(s.url, CHAT, chat("m", "hi"))).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
  });

  it("answers malformed requests with 400 invalid_request_error", async () => {
    const s = await start({});
    const bad = await post(s.url, CHAT, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      type: "invalid_request_error",
      param: null,
      code: null,
    });
    expect(bad.body.error.message).toMatch(/could not parse the JSON body/);

    const cases: [unknown, string | null][] = [
      [{ messages: [{ role: "user", content: "x" }] }, "model"],
      [{ model: "m" }, "messages"],
      [{ model: "m", messages: [] }, "messages"],
      [{ model: "m", messages: "hi" }, "messages"],
      [{ model: "m", messages: [{ role: "robot", content: "x" }] }, "messages[0].role"],
      [{ model: "m", messages: [{ role: "user", content: "x" }], max_tokens: 0 }, "max_tokens"],
      [{ model: "m", messages: [{ role: "user", content: "x" }], stream: "yes" }, "stream"],
      [[1, 2], null],
    ];
    for (const [body, param] of cases) {
      const r = await post(s.url, CHAT, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.type).toBe("invalid_request_error");
      expect(r.body.error.param).toBe(param);
      expect(r.headers.get("x-request-id")).toMatch(/^req_/);
    }
    expect(s.stats().badRequests).toBe(cases.length + 1);
    const notFound = await post(s.url, "/v1/nope", {});
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.message).toBe("Invalid URL (POST /v1/nope)");
  });
});
