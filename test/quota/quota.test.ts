import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { QuotaService } from "../../src/quota/admission.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { type SimProcess, startSimProcess } from "../gateway/helpers.js";
import { openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { meteredAgent } from "./metered.js";

/**
 * Quota-aware scheduling against the simulated provider (its own process) on PostgreSQL:
 * admission by daily quota, the throttled status with its limit and ETA, mid-run
 * throttling without spending an attempt or repeating a step, the fail-fast policy, and
 * the quota endpoints.
 */
describe("quota-aware scheduling", () => {
  let sim: SimProcess;
  let db: Db;
  let close: () => Promise<void>;
  let gateway: Gateway;
  let quota: QuotaService;
  let service: RunService;
  let worker: Worker;

  const chatty = defineAgent({
    name: "chatty",
    run: async (ctx) => {
      let n = 0;
      for (let i = 0; i < 10; i++) {
        const r = await ctx.llm({
          name: `call ${i}`,
          model: "paced",
          max_tokens: 100,
          messages: [{ role: "user", content: `q${i} ${"word ".repeat(600)}` }],
        });
        n += r.usage.outputTokens > 0 ? 1 : 0;
      }
      return n;
    },
  });
  const daily = (name: string, tokens: number, whenQuotaShort?: "wait" | "fail") =>
    defineAgent({
      name,
      estimate: { tokens, llmCalls: 1, models: ["daily"] },
      ...(whenQuotaShort ? { whenQuotaShort } : {}),
      run: async (ctx) =>
        (
          await ctx.llm({
            model: "daily",
            max_tokens: 40,
            messages: [{ role: "user", content: "hi" }],
          })
        ).usage,
    });
  const agents = [chatty, daily("small", 600), daily("huge", 5_000), daily("strict", 600, "fail")];

  beforeAll(async () => {
    sim = await startSimProcess(["--latency-ms", "5-10"]);
    ({ db, close } = await openTestDb("postgres"));
    gateway = createGateway({
      db,
      config: {
        providers: {
          sim: {
            type: "openai",
            baseUrl: `${sim.url}/v1`,
            apiKey: "k",
            limits: { "paced-model": { tpm: 6_000 }, "daily-model": { tpd: 1_000 } },
          },
        },
        models: { paced: "sim/paced-model", daily: "sim/daily-model" },
        gateway: { llmMaxWaitMs: 200 },
      },
      log: silentLogger,
    });
    await gateway.start();
    quota = new QuotaService(db, gateway, 0);
    service = new RunService(db, agents, [], quota);
    await service.start();
    worker = new Worker({
      db,
      agents,
      llm: gateway,
      admission: (a) => quota.check(a),
      pollIntervalMs: 200,
    });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop(500);
    await service?.stop();
    await gateway?.close();
    await close?.();
    await sim?.stop();
  });

  it("parks a run whose call must wait as throttled, with the limit and an ETA, and spends no attempt", async () => {
    const { run } = await service.submit({ agent: "chatty" });
    await until(
      async () => (await service.get(run.id)).status === "throttled",
      20_000,
      "the run to be throttled",
    );
    const throttled = await service.get(run.id);
    expect(throttled.waiting_for?.limit).toBe("sim/paced-model tpm");
    expect(new Date(throttled.waiting_for!.eta!).getTime()).toBeGreaterThan(Date.now() - 1_000);
    const { run: done } = await service.waitFor(run.id, 60_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toBe(10);
    // Still the first attempt: the throttle spent none.
    expect(done.attempt).toBe(1);
    // Every LLM call was made once: the provider served exactly 10 chat requests and
    // answered none with a 429.
    const stats = await sim.stats();
    expect(stats.byModel["paced-model"]?.requests).toBe(10);
    expect(stats.rateLimited).toBe(0);
  });

  it("admits runs by today's remaining quota, and refuses one that could never fit", async () => {
    const first = await service.submit({ agent: "small" });
    expect((await service.waitFor(first.run.id, 20_000)).run.status).toBe("succeeded");
    // About 600 of the 1,000 daily tokens are left for a run forecast at 600: it waits.
    await fetch(`${sim.url}/stats/reset`, { method: "POST" });
    const burn = await gateway.chat(
      {
        model: "daily",
        max_tokens: 40,
        messages: [{ role: "user", content: "word ".repeat(700) }],
      },
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(burn.usage.inputTokens).toBeGreaterThan(100);
    const second = await service.submit({ agent: "small" });
    await until(
      async () => (await service.get(second.run.id)).status === "throttled",
      10_000,
      "admission to hold the run",
    );
    const held = await service.get(second.run.id);
    expect(held.waiting_for?.limit).toBe("sim/daily-model tpd");
    expect(new Date(held.waiting_for!.eta!).getTime()).toBeGreaterThan(Date.now());
    expect(held.started_at).not.toBeNull();
    expect(await service.steps(second.run.id)).toEqual([]);

    const app = createApi({ service, quota });
    const check = await (await app.request("/v1/quota/check", json({ agent: "small" }))).json();
    expect(check).toMatchObject({
      can_start: false,
      forecast: { tokens: 600, source: "declared" },
      waiting_for: { limit: "sim/daily-model tpd" },
    });
    const overview = (await (await app.request("/v1/quota")).json()) as {
      limits: {
        target: string;
        caps: Record<string, number>;
        remaining: Record<string, number>;
        runs_waiting: number;
      }[];
    };
    const daily = overview.limits.find((l) => l.target === "sim/daily-model")!;
    expect(daily.caps.tpd).toBe(1_000);
    expect(daily.remaining.tpd).toBeLessThan(600);
    expect(daily.runs_waiting).toBe(1);

    // A run that needs more than the whole day's quota can never start: it fails at once.
    const huge = await service.submit({ agent: "huge" });
    const { run: hugeDone } = await service.waitFor(huge.run.id, 10_000);
    expect(hugeDone.status).toBe("failed");
    expect(hugeDone.error?.code).toBe("OUTLAST_QUOTA_EXHAUSTED");

    // An agent that fails fast is refused at submit, and nothing is stored.
    const before = (await service.list({ agent: "strict" })).runs.length;
    await expect(service.submit({ agent: "strict" })).rejects.toMatchObject({
      code: "OUTLAST_QUOTA_EXHAUSTED",
    });
    expect((await service.list({ agent: "strict" })).runs.length).toBe(before);
    await service.cancel(second.run.id);
  });

  it("shares the per-minute limits among admitted runs by their learned pace, plus banked quota", async () => {
    const { paced, metered } = await meteredAgent(db, sim.url);
    const q = new QuotaService(db, metered, 0);
    q.jitter = () => 1;
    const running = async (n: number) => {
      await db.query("DELETE FROM outlast.runs WHERE agent = 'paced-runs'");
      await db.query(
        `INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts)
         SELECT 'default', gen_random_uuid(), 'paced-runs', 'default', 'running', 1 FROM generate_series(1, $1::int)`,
        [n],
      );
    };
    await running(4);
    const admitted = await q.check(paced);
    expect(admitted).toMatchObject({ admit: true, forecast: { callsPerMinute: 60, llmCalls: 60 } });
    await running(5);
    const held = await q.check(paced);
    expect(held).toMatchObject({ admit: false, limit: "sim/metered-model rpm" });
    // A run takes a minute at full speed, shared four ways: the next slot in ~15 s.
    expect(held.admit ? 0 : held.etaMs).toBe(15_000);
    await db.query("DELETE FROM outlast.runs WHERE agent = 'paced-runs'");
  });

  it("learns a run's full-speed pace from its calls' time at the provider, not their waits for quota", async () => {
    const crawling = defineAgent({
      name: "crawling-runs",
      estimate: { llmCalls: 30, models: ["metered"] },
      run: async () => null,
    });
    // Calls that waited 5 s for quota and then took 1 s at the provider, in finished runs
    // that crawled (30 calls in 10 minutes). At full speed a run makes 60 calls a minute;
    // learned from the waits or the crawl it would look 6× or 20× slower, and 6× or 20×
    // more runs would be let in to crawl together.
    await db.query(
      `INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts, started_at, finished_at)
       SELECT 'default', gen_random_uuid(), 'crawling-runs', 'default', 'succeeded', 1,
         now() - interval '10 minutes', now() FROM generate_series(1, 5)`,
    );
    await db.query(
      `INSERT INTO outlast.gateway_calls (project, agent, run_id, requested, provider, model,
         outcome, status, input_tokens, output_tokens, latency_ms, upstream_ms)
       SELECT 'default', 'crawling-runs', r.id::text, 'metered', 'sim', 'metered-model', 'ok',
         200, 50, 50, 6000, 1000
       FROM outlast.runs r, generate_series(1, 30) WHERE r.agent = 'crawling-runs'`,
    );
    const q = new QuotaService(db, gateway, 0);
    const f = await q.forecast(crawling);
    expect(f.callsPerMinute).toBe(60);
    expect(f.tokensPerMinute).toBe(6_000);
  });

  it("records each call's time at the provider apart from the caller's whole wait", async () => {
    const res = await gateway.chat(
      { model: "sim/gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 },
      { signal: new AbortController().signal, agent: "upstream-timing" },
    );
    expect(res.content).toBeTruthy();
    await gateway.flush();
    const rows = await db.query<{ latency_ms: number; upstream_ms: number | null }>(
      "SELECT latency_ms, upstream_ms FROM outlast.gateway_calls WHERE agent = 'upstream-timing'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.upstream_ms).not.toBeNull();
    expect(rows[0]!.upstream_ms!).toBeLessThanOrEqual(rows[0]!.latency_ms);
  });
});

function json(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}
