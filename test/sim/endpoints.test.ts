import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { type Simulator, type SimulatorOptions, startSimulator } from "../../src/sim/index.js";
import { chat, claude, get, post } from "./helpers.js";

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});
async function start(opts: SimulatorOptions): Promise<Simulator> {
  sim = await startSimulator(opts);
  return sim;
}

describe("embeddings", () => {
  it("returns deterministic unit vectors and usage", async () => {
    const s = await start({ models: [{ name: "emb", rpm: 100 }] });
    const r = await post(s.url, "/v1/embeddings", {
      model: "emb",
      input: ["hello world", "other"],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      object: "list",
      model: "emb",
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    const [a, b] = r.body.data;
    expect(a).toMatchObject({ object: "embedding", index: 0 });
    expect(a.embedding).toHaveLength(64);
    const norm = Math.hypot(...(a.embedding as number[]));
    expect(norm).toBeCloseTo(1, 5);
    expect(a.embedding).not.toEqual(b.embedding);
    expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("99");

    const again = await post(s.url, "/v1/embeddings", {
      model: "emb",
      input: "hello world",
      dimensions: 8,
    });
    expect(again.body.data[0].embedding).toHaveLength(8);
    const same = await post(s.url, "/v1/embeddings", { model: "emb", input: "hello world" });
    expect(same.body.data[0].embedding).toEqual(a.embedding);
  });

  it("embeds texts that share words near each other, texts that share none far apart", async () => {
    const s = await start({});
    const r = await post(s.url, "/v1/embeddings", {
      model: "e",
      input: [
        "The cat sat on the mat",
        "the CAT sat on a mat!",
        "Quarterly revenue grew strongly",
        "the cat chased a mouse",
      ],
      dimensions: 256,
    });
    const [a, b, c, d] = r.body.data.map((x: { embedding: number[] }) => x.embedding);
    const cos = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * (y[i] ?? 0), 0);
    // Case and punctuation aside, a and b share 5 of their 6 words; a and c none.
    expect(cos(a, b)).toBeGreaterThan(0.7);
    expect(Math.abs(cos(a, c))).toBeLessThan(0.25);
    // Two shared words ("the", "cat") of six: between the two.
    expect(cos(a, d)).toBeGreaterThan(0.25);
    expect(cos(a, d)).toBeLessThan(cos(a, b));
  });

  it("speaks base64 (the official SDK's default) and rejects bad input", async () => {
    const s = await start({});
    const floats = await post(s.url, "/v1/embeddings", { model: "e", input: "x" });
    const b64 = await post(s.url, "/v1/embeddings", {
      model: "e",
      input: "x",
      encoding_format: "base64",
    });
    const buf = Buffer.from(b64.body.data[0].embedding as string, "base64");
    const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    expect(decoded).toEqual(floats.body.data[0].embedding);
    const tokens = await post(s.url, "/v1/embeddings", { model: "e", input: [1, 2, 3] });
    expect(tokens.body.usage.prompt_tokens).toBe(3);
    for (const input of [undefined, "", [], [""], [{}], 5]) {
      const r = await post(s.url, "/v1/embeddings", { model: "e", input });
      expect(r.status).toBe(400);
      expect(r.body.error.type).toBe("invalid_request_error");
    }
  });
});

describe("models", () => {
  it("lists the configured models in each API's shape", async () => {
    const s = await start({ models: [{ name: "gpt-4o" }, { name: "claude-sonnet" }] });
    const openai = await get(s.url, "/v1/models");
    expect(openai.body).toEqual({
      object: "list",
      data: [
        { id: "gpt-4o", object: "model", created: expect.any(Number), owned_by: "outlast-sim" },
        {
          id: "claude-sonnet",
          object: "model",
          created: expect.any(Number),
          owned_by: "outlast-sim",
        },
      ],
    });
    const anthropic = await get(s.url, "/v1/models", { "anthropic-version": "2023-06-01" });
    expect(anthropic.body).toMatchObject({
      data: [
        { type: "model", id: "gpt-4o" },
        { type: "model", id: "claude-sonnet" },
      ],
      has_more: false,
      first_id: "gpt-4o",
      last_id: "claude-sonnet",
    });
  });
});

describe("stats", () => {
  it("counts requests, tokens, 429s and injected errors, per model", async () => {
    const s = await start({
      models: [
        { name: "limited", rpm: 1 },
        { name: "broken", errorRate: 1 },
      ],
    });
    const ok = await post(s.url, "/v1/chat/completions", chat("limited", "hi"));
    await post(s.url, "/v1/chat/completions", chat("limited", "hi"));
    await post(s.url, "/v1/messages", claude("broken", "hi"));
    await post(s.url, "/v1/chat/completions", "nope");
    const stats = (await get(s.url, "/stats")).body;
    expect(stats).toEqual(s.stats());
    expect(stats).toMatchObject({
      requests: 4,
      ok: 1,
      rateLimited: 1,
      errors: 1,
      badRequests: 1,
      timeouts: 0,
      inFlight: 0,
      tokens: { input: ok.body.usage.prompt_tokens, output: ok.body.usage.completion_tokens },
      byModel: {
        limited: { requests: 2, ok: 1, rateLimited: 1, errors: 0 },
        broken: { requests: 1, ok: 0, errors: 1, tokens: { input: 0, output: 0 } },
      },
    });

    expect((await post(s.url, "/stats/reset", {})).status).toBe(200);
    expect(s.stats()).toMatchObject({ requests: 0, byModel: {} });
    // /stats/reset clears counters only; limits still hold...
    expect((await post(s.url, "/v1/chat/completions", chat("limited", "hi"))).status).toBe(429);
    // ...while reset() (and POST /reset) also refill every bucket.
    s.reset();
    expect((await post(s.url, "/v1/chat/completions", chat("limited", "hi"))).status).toBe(200);
    expect((await post(s.url, "/reset", {})).status).toBe(200);
    expect((await post(s.url, "/v1/chat/completions", chat("limited", "hi"))).status).toBe(200);
  });

  it("validates options with errors that name the field", async () => {
    await expect(startSimulator({ models: [{ name: "m", rpm: -1 }] })).rejects.toThrow(
      "models[0].rpm must be a positive number",
    );
    await expect(startSimulator({ defaults: { latencyMs: [5, 1] } })).rejects.toThrow(
      "defaults.latencyMs",
    );
    await expect(
      startSimulator({ defaults: { errorRate: 0.6, timeoutRate: 0.6 } }),
    ).rejects.toThrow(/must not exceed 1/);
  });
});

describe("standalone process", () => {
  it("prints `listening on <url>` first and serves until SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/sim/main.ts", "--port", "0", "--rpm", "2", "--models", "a,b"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
      expect(match).not.toBeNull();
      const url = match![1]!;
      const r = await post(url, "/v1/chat/completions", chat("a", "hi"));
      expect(r.headers.get("x-ratelimit-limit-requests")).toBe("2");
      expect((await get(url, "/v1/models")).body.data).toHaveLength(2);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });

  it("exits 2 naming a bad flag", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/sim/main.ts", "--rpm", "lots"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += String(d);
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--rpm must be an integer/);
  });
});
