/**
 * A provider's own 429s (the simulator's, not the gateway's limiter): a run whose call is
 * refused parks as throttled and resumes without spending an attempt; an alias fails over
 * to its next target when a target is out of quota; a cache hit spends no quota. The
 * simulators run in their own processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { type GatewayServer, type SimProcess, serveGateway, startSimProcess } from "./helpers.js";

let db: Db;
let close: () => Promise<void>;
/** One request at a time per model and key, each answered after 1.5 s. */
let narrow: SimProcess;
/** One request per minute per model and key. */
let slow: SimProcess;

beforeAll(async () => {
  [narrow, slow, { db, close }] = await Promise.all([
    startSimProcess(["--concurrency", "1", "--latency-ms", "1500"]),
    startSimProcess(["--rpm", "1", "--latency-ms", "2-5"]),
    openTestDb("postgres"),
  ]);
});

afterAll(async () => {
  await Promise.all([narrow?.stop(), slow?.stop()]);
  await close?.();
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: tests index into answers freely.
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const chat = (model: string, content: string) => ({
  model,
  messages: [{ role: "user", content }],
  max_tokens: 16,
});

describe("a provider 429 during a run", () => {
  let gateway: Gateway;
  let service: RunService;
  let worker: Worker;
  const before: string[] = [];
  /** ctx.attempt of each execution of the run: before the throttle, and after. */
  const attempts: number[] = [];
  const agents = [
    defineAgent({
      name: "asker",
      run: async (ctx) => {
        attempts.push(ctx.attempt);
        await ctx.step("before", () => {
          before.push(ctx.runId);
        });
        const r = await ctx.llm({ model: "narrow", messages: [{ role: "user", content: "hi" }] });
        return (r.content ?? "").length > 0;
      },
    }),
  ];

  beforeAll(async () => {
    gateway = createGateway({
      db,
      log: silentLogger,
      config: {
        // No limits configured: only the provider knows it serves one request at a time.
        providers: { sim: { baseUrl: `${narrow.url}/v1`, apiKey: "k" } },
        models: { narrow: "sim/gpt-4o-mini" },
        // No in-process retry: the provider's 1.5 s retry-after would be waited out within
        // the gateway's upstream retry budget (10 s), and the run would not park. (And the
        // default llmMaxWaitMs: a shorter one, 100 ms, once let the limiter's first store
        // round trip, slow under load, throttle the run before the provider was asked.)
        gateway: { retries: 0 },
      },
    });
    await gateway.start();
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, llm: gateway, pollIntervalMs: 100 });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop(500);
    await service?.stop();
    await gateway?.close();
  });

  it("parks the run as throttled, and it resumes without spending an attempt", async () => {
    // Another client of the same key holds the provider's only slot for 1.5 s.
    const blocker = fetch(`${narrow.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer k" },
      body: JSON.stringify(chat("gpt-4o-mini", "hold the slot")),
    });
    await until(async () => (await narrow.stats()).inFlight === 1, 10_000, "the slot to be held");

    const { run } = await service.submit({ agent: "asker" });
    await until(
      async () => (await service.get(run.id)).status === "throttled",
      10_000,
      "the run to park as throttled",
    );
    const throttled = await service.get(run.id);
    // Parked by the provider's refusal (the why is in the message if not).
    expect({
      rateLimited: (await narrow.stats()).rateLimited,
      error: throttled.error,
      waiting: throttled.waiting_for,
    }).toMatchObject({ rateLimited: 1 });
    expect((await blocker).status).toBe(200);

    const { run: done } = await service.waitFor(run.id, 20_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toBe(true);
    // The throttle spent no attempt, and the step before the call was not run again.
    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toBe(attempts[0]);
    expect(done.attempt).toBe(throttled.attempt);
    expect(before).toEqual([run.id]);
    const events = await db.query<{ type: string }>(
      "SELECT type FROM outlast.events WHERE run_id = $1 AND type LIKE 'run.%' ORDER BY seq",
      [run.id],
    );
    expect(events.map((e) => e.type)).toEqual([
      "run.queued",
      "run.running",
      "run.throttled",
      "run.running",
      "run.succeeded",
    ]);
    // Served once by the provider, after one refusal.
    const stats = await narrow.stats();
    expect(stats.byModel["gpt-4o-mini"]).toMatchObject({ ok: 2, rateLimited: 1 });
  });
});

describe("quota and failover", () => {
  let gw: GatewayServer | undefined;

  afterAll(async () => {
    await gw?.close();
  });

  it("fails over to the next target when the first is out of quota: by the provider's 429, or by the limits it has", async () => {
    gw = await serveGateway(db, {
      providers: {
        // The gateway does not know this one's limits; it learns them from its 429.
        unknown: { baseUrl: `${slow.url}/v1`, apiKey: "k1" },
        known: { baseUrl: `${slow.url}/v1`, apiKey: "k2", limits: { "gpt-4o": { rpm: 1 } } },
        spare: { baseUrl: `${slow.url}/v1`, apiKey: "k3" },
      },
      gateway: {
        aliases: {
          a: { targets: ["unknown/gpt-4o-mini", "spare/gpt-4.1-mini"] },
          b: { targets: ["known/gpt-4o", "spare/gpt-4.1-nano"] },
        },
        retries: 0,
      },
    });
    const wait = { "x-outlast-wait": "30" };
    for (const [alias, first, spare] of [
      ["a", "gpt-4o-mini", "gpt-4.1-mini"],
      ["b", "gpt-4o", "gpt-4.1-nano"],
    ] as const) {
      const t0 = Date.now();
      const one = await post(gw.url, chat(alias, "one"), wait);
      const two = await post(gw.url, chat(alias, "two"), wait);
      expect([one.status, two.status]).toEqual([200, 200]);
      expect(one.headers.get("x-outlast-target")).toMatch(new RegExp(`/${first}$`));
      expect(two.headers.get("x-outlast-target")).toMatch(new RegExp(`/${spare}$`));
      // Passed over at once, not waited for (its quota comes back in a minute).
      expect(Date.now() - t0).toBeLessThan(20_000);
      const stats = await slow.stats();
      expect(stats.byModel[spare]).toMatchObject({ requests: 1, ok: 1 });
      // The provider refused the unknown target's second call; the known one was not asked.
      expect(stats.byModel[first]).toMatchObject(
        alias === "a" ? { requests: 2, ok: 1, rateLimited: 1 } : { requests: 1, ok: 1 },
      );
    }
  });

  it("serves a cache hit without spending quota", async () => {
    await gw?.close();
    gw = await serveGateway(db, {
      providers: {
        cached: { baseUrl: `${narrow.url}/v1`, apiKey: "k4", limits: { "gpt-4o": { rpm: 2 } } },
      },
      gateway: { aliases: { c: { targets: ["cached/gpt-4o"], cache: { ttlSeconds: 60 } } } },
    });
    const now = { "x-outlast-wait": "0" };
    const first = await post(gw.url, chat("c", "cache me"), now);
    expect(first.status).toBe(200);
    await gw.gateway.flush();
    for (let i = 0; i < 3; i++) {
      const hit = await post(gw.url, chat("c", "cache me"), now);
      expect(hit.status).toBe(200);
      expect(hit.headers.get("x-outlast-cache")).toBe("hit");
    }
    // The limit is 2 a minute: the hits took none of it, so one more call fits, and no more.
    const second = await post(gw.url, chat("c", "something else"), now);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-outlast-cache")).toBe("miss");
    const third = await post(gw.url, chat("c", "and another"), now);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("OUTLAST_GATEWAY_RATE_LIMITED");
    expect((await narrow.stats()).byModel["gpt-4o"]).toMatchObject({ requests: 2, ok: 2 });
  });
});
