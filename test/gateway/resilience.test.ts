/**
 * Failover, the circuit breaker, the cache, provider 429s pausing a key for every
 * process, errors in the callers' shapes and `ctx.llm`'s throttling — against simulators
 * in their own processes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createGateway } from "../../src/gateway/index.js";
import { retryAfterMs } from "../../src/gateway/retry-after.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { silentLogger } from "../../src/util/log.js";
import {
  type GatewayServer,
  resetGatewayTables,
  type SimProcess,
  serveGateway,
  startSimProcess,
} from "./helpers.js";

let good: SimProcess;
let bad: SimProcess;
let db: Db;
let gw: GatewayServer | undefined;

beforeAll(async () => {
  [good, bad, db] = await Promise.all([
    startSimProcess(["--latency-ms", "2-5"]),
    startSimProcess(["--error-rate", "1", "--latency-ms", "1-2"]),
    openStore({ dataDir: "memory" }),
  ]);
});

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await resetGatewayTables(db);
  await Promise.all([good.reset(), bad.reset()]);
});

afterAll(async () => {
  await Promise.all([good?.stop(), bad?.stop()]);
  await db?.close();
});

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: "smart",
  messages: [{ role: "user", content }],
  max_tokens: 16,
  ...extra,
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    // biome-ignore lint/suspicious/noExplicitAny: tests index into error JSON freely.
    body: (await res.json()) as Record<string, any>,
  };
}

function config(breaker = { failures: 2, cooldownMs: 400 }) {
  return {
    providers: {
      bad: { baseUrl: `${bad.url}/v1`, apiKey: "b" },
      good: { baseUrl: `${good.url}/v1`, apiKey: "g" },
    },
    gateway: {
      aliases: {
        smart: { targets: ["bad/gpt-4o", "good/gpt-4o"] },
        broken: { targets: ["bad/gpt-4o"] },
      },
      breaker,
      retries: 1,
    },
  };
}

test("failover: a 5xx from the first target is served by the next", async () => {
  gw = await serveGateway(db, config({ failures: 100, cooldownMs: 1000 }));
  const r = await post(gw.url, chat("fail over"));
  expect(r.status).toBe(200);
  expect(r.headers.get("x-outlast-target")).toBe("good/gpt-4o");
  expect(r.headers.get("x-outlast-attempts")).toBe("2");
  expect((await bad.stats()).errors).toBe(1);
});

test("circuit breaker: opens after 2 failures, skips the target, probes after the cooldown", async () => {
  gw = await serveGateway(db, config());
  for (let i = 0; i < 5; i++) expect((await post(gw.url, chat(`c${i}`))).status).toBe(200);
  // Two failures opened it; the other three calls went straight to the next target.
  expect((await bad.stats()).requests).toBe(2);
  await new Promise((r) => setTimeout(r, 450));
  expect((await post(gw.url, chat("probe"))).status).toBe(200);
  expect((await bad.stats()).requests).toBe(3);
  // The probe failed: open again at once.
  expect((await post(gw.url, chat("after probe"))).status).toBe(200);
  expect((await bad.stats()).requests).toBe(3);
});

test("every target failing: 502 in OpenAI's shape naming the targets tried", async () => {
  gw = await serveGateway(db, config({ failures: 100, cooldownMs: 1000 }));
  const r = await post(gw.url, chat("doomed", { model: "broken" }));
  expect(r.status).toBe(502);
  expect(r.body.error.code).toBe("OUTLAST_GATEWAY_UPSTREAM_FAILED");
  expect(r.body.error.message).toMatch(/bad\/gpt-4o: HTTP 500/);
  expect(typeof r.body.error.type).toBe("string");
});

test("cache: a second identical call (plain and stream) is served without the provider, marked in usage", async () => {
  gw = await serveGateway(db, config());
  const h = { "x-outlast-cache": "60" };
  const body = chat("cache me", { model: "good/gpt-4o-mini" });
  const a = await post(gw.url, body, h);
  await gw.gateway.flush();
  const b = await post(gw.url, body, h);
  expect(b.status).toBe(200);
  expect(b.headers.get("x-outlast-cache")).toBe("hit");
  expect(b.body).toEqual(a.body);
  const streamBody = JSON.stringify({ ...body, stream: true });
  const s1 = await (
    await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: h, body: streamBody })
  ).text();
  await gw.gateway.flush();
  const res2 = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: h,
    body: streamBody,
  });
  expect(res2.headers.get("x-outlast-cache")).toBe("hit");
  expect(await res2.text()).toBe(s1);
  expect((await good.stats()).requests).toBe(2);
  await gw.gateway.flush();
  const [row] = await gw.gateway.usage();
  expect(row).toMatchObject({ requests: 4, ok: 2, cache_hits: 2 });
  expect(row?.saved_tokens).toBeGreaterThan(0);
});

test("a provider 429 pauses the key for every gateway process sharing the store", async () => {
  const limited = await startSimProcess(["--rpm", "2"]);
  try {
    const cfg = { providers: { p: { baseUrl: `${limited.url}/v1`, apiKey: "same" } } };
    gw = await serveGateway(db, cfg);
    // A second gateway on the same store: another process, as far as the limiter knows.
    const other = await serveGateway(db, cfg);
    try {
      const body = chat("x", { model: "p/gpt-4o" });
      const noWait = { "x-outlast-wait": "0" };
      expect((await post(gw.url, body, noWait)).status).toBe(200);
      expect((await post(gw.url, body, noWait)).status).toBe(200);
      // No limits configured: the third reaches the provider, which refuses it.
      const third = await post(gw.url, body, noWait);
      expect(third.status).toBe(429);
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(20);
      expect((await limited.stats()).rateLimited).toBe(1);
      // The other process now holds back without asking the provider.
      const fourth = await post(other.url, body, noWait);
      expect(fourth.status).toBe(429);
      expect(fourth.body.error.message, fourth.body.error.message).toMatch(/paused/);
      expect((await limited.stats()).requests).toBe(3);
    } finally {
      await other.close();
    }
  } finally {
    await limited.stop();
  }
});

test("ctx.llm: a wait longer than llmMaxWaitMs throws RateLimitedError with retryAfterMs", async () => {
  const gateway = createGateway({
    db,
    log: silentLogger,
    config: {
      providers: { good: { baseUrl: `${good.url}/v1`, apiKey: "g2", limits: { "*": { rpm: 1 } } } },
      gateway: { llmMaxWaitMs: 100 },
    },
  });
  try {
    const signal = new AbortController().signal;
    const req = {
      model: "good/gpt-4o",
      messages: [{ role: "user" as const, content: "hi" }],
      max_tokens: 8,
    };
    const ok = await gateway.chat(req, {
      signal,
      runId: "run-1",
      agent: "tester",
      feature: "f",
      tenant: "t",
    });
    expect(ok.provider).toBe("good");
    const err = await gateway.chat(req, { signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "rate_limited", code: "OUTLAST_RATE_LIMITED" });
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(30_000);
    await gateway.flush();
    const rows = await gateway.usage({ groupBy: ["run", "agent", "feature", "tenant", "outcome"] });
    expect(rows).toContainEqual(
      expect.objectContaining({
        run: "run-1",
        agent: "tester",
        feature: "f",
        tenant: "t",
        outcome: "ok",
      }),
    );
  } finally {
    await gateway.close();
  }
});

describe("errors in the caller's own shape, never 5xx for bad input", () => {
  test("OpenAI endpoint", async () => {
    gw = await serveGateway(db, config());
    const bad = await post(gw.url, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({
      code: "OUTLAST_GATEWAY_INVALID_REQUEST",
      type: "invalid_request_error",
    });
    const unknown = await post(gw.url, chat("x", { model: "nope" }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("OUTLAST_GATEWAY_UNKNOWN_MODEL");
    const noMessages = await post(gw.url, { model: "smart" });
    expect(noMessages.status).toBe(400);
    expect(noMessages.body.error.param).toBe("messages");
  });

  test("Anthropic endpoint", async () => {
    gw = await serveGateway(db, config());
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "smart", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error" },
    });
  });
});

test("retry-after: retry-after-ms, seconds, HTTP dates", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  expect(retryAfterMs(new Headers({ "retry-after-ms": "1500" }), now)).toBe(1500);
  expect(retryAfterMs(new Headers({ "retry-after": "3" }), now)).toBe(3000);
  expect(retryAfterMs(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now)).toBe(
    7000,
  );
  expect(
    retryAfterMs(
      new Headers({ "x-ratelimit-reset-tokens": "1m2.5s", "x-ratelimit-remaining-tokens": "0" }),
      now,
    ),
  ).toBe(62_500);
  expect(retryAfterMs(new Headers({}), now)).toBeUndefined();
});
