/**
 * gateway.caps: Outlast's own limits per project, feature and tenant, on top of the
 * providers' — held across processes by the shared store, waited for like a provider's
 * quota, and charged what the provider billed — against the simulator in its own process,
 * on PGlite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { RateLimitedError } from "../../src/errors.js";
import { createGateway, type GatewayConfigInput } from "../../src/gateway/index.js";
import { QuotaService } from "../../src/quota/admission.js";
import { Fairness } from "../../src/quota/fairness.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { type GatewayServer, type SimProcess, serveGateway, startSimProcess } from "./helpers.js";

let sim: SimProcess;
/** Streams paced over 1 s: a test holds a stream open that long, whatever the load. */
let slowSim: SimProcess;

beforeAll(async () => {
  [sim, slowSim] = await Promise.all([
    startSimProcess(["--latency-ms", "150-150"]),
    startSimProcess(["--latency-ms", "1000-1000"]),
  ]);
});

afterAll(async () => {
  await Promise.all([sim?.stop(), slowSim?.stop()]);
});

function config(
  caps: NonNullable<GatewayConfigInput["gateway"]>["caps"],
  provider: SimProcess = sim,
): GatewayConfigInput {
  return {
    // A call takes 150 ms (1 s on slowSim); the timeout leaves room for a loaded machine.
    providers: { sim: { baseUrl: `${provider.url}/v1`, apiKey: "sim-key", timeoutMs: 30_000 } },
    models: { fast: "sim/gpt-4o-mini" },
    gateway: { caps },
  };
}

/** An answer's body: an error's fields, which the tests read, or a completion. */
interface Answer {
  error: { code: string; message: string };
}

async function post(
  gw: GatewayServer,
  headers: Record<string, string>,
  maxTokens = 16,
): Promise<{ status: number; headers: Headers; body: Answer }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      model: "fast",
      messages: [{ role: "user", content: "cap me" }],
      max_tokens: maxTokens,
    }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer };
}

const NO_WAIT = { "x-outlast-wait": "0" };

describe.each(BACKENDS)("gateway caps on %s", (backend) => {
  let db: Db;
  let closeDb: () => Promise<void>;
  const open: GatewayServer[] = [];

  beforeAll(async () => {
    const t = await openTestDb(backend);
    db = t.db;
    closeDb = async () => {
      await db.exec(
        "TRUNCATE outlast.gateway_buckets, outlast.gateway_leases, outlast.gateway_waiters, outlast.gateway_cache, outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals",
      );
      await t.close();
    };
  });

  afterAll(async () => {
    for (const g of open) await g.close();
    await closeDb?.();
  });

  async function serve(
    caps: Parameters<typeof config>[0],
    provider: SimProcess = sim,
  ): Promise<GatewayServer> {
    await db.exec(
      "TRUNCATE outlast.gateway_buckets, outlast.gateway_leases, outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals",
    );
    await provider.reset();
    const g = await serveGateway(db, config(caps, provider));
    open.push(g);
    return g;
  }

  test('"*" gives every tenant a bucket of its own; over it, a caller that will not wait gets a 429 naming the cap', async () => {
    const gw = await serve({ tenant: { "*": { rpm: 2 } } });
    const a = { ...NO_WAIT, "x-outlast-tenant": "a" };
    expect((await post(gw, a)).status).toBe(200);
    expect((await post(gw, a)).status).toBe(200);
    const refused = await post(gw, a);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("OUTLAST_GATEWAY_RATE_LIMITED");
    expect(refused.body.error.message).toContain('tenant "a" is over its rpm cap');
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    // Another tenant has its own bucket; the refused call never reached the provider.
    expect((await post(gw, { ...NO_WAIT, "x-outlast-tenant": "b" })).status).toBe(200);
    expect((await sim.stats()).requests).toBe(3);
    await gw.gateway.flush();
    const [row] = await gw.gateway
      .usage({ groupBy: ["tenant"] })
      .then((rows) => rows.filter((r) => r.tenant === "a"));
    expect(row).toMatchObject({ requests: 3, ok: 2, errors: 1 });
  });

  test('/v1/quota shows each cap: named ones before any use, and the buckets "*" made', async () => {
    const gw = await serve({ tenant: { "*": { rpm: 2 }, vip: { tpm: 5_000 } } });
    await post(gw, { ...NO_WAIT, "x-outlast-tenant": "seen" });
    await post(gw, { ...NO_WAIT, "x-outlast-tenant": "seen" });
    await gw.gateway.flush();
    const { limits } = await new QuotaService(db, gw.gateway, 0).overview();
    const seen = limits.find((l) => l.target === 'tenant "seen"');
    expect(seen).toMatchObject({ caps: { rpm: 2 }, remaining: { rpm: 0 }, runsWaiting: 0 });
    expect(limits.find((l) => l.target === 'tenant "vip"')).toMatchObject({
      caps: { tpm: 5_000 },
      remaining: { tpm: 5_000 },
    });
    // A tenant never seen has no bucket yet, and "*" itself is no tenant.
    expect(limits.some((l) => l.target === 'tenant "*"')).toBe(false);
  });

  test("admission: a run whose tenant's daily cap cannot cover its forecast waits, with an ETA", async () => {
    const gw = await serve({ tenant: { "*": { tpd: 700 } } });
    const quota = new QuotaService(db, gw.gateway, 0);
    const agent = (tokens: number) =>
      defineAgent({
        name: `capped-${tokens}`,
        estimate: { tokens, llmCalls: 1, models: ["fast"] },
        run: async () => null,
      });
    expect(await quota.check(agent(600), { tenant: "t" })).toMatchObject({ admit: true });
    // ~45 tokens billed a call: after three, less than 600 of the 700 is left today.
    for (let i = 0; i < 3; i++) {
      expect((await post(gw, { "x-outlast-tenant": "t" }, 400)).status).toBe(200);
    }
    await gw.gateway.flush();
    expect(await quota.check(agent(600), { tenant: "t" })).toMatchObject({
      admit: false,
      limit: 'tenant "t" tpd',
      etaMs: expect.any(Number),
    });
    expect(await quota.check(agent(600), { tenant: "u" })).toMatchObject({ admit: true });
    // More than the whole daily cap: it could never start.
    expect(await quota.check(agent(5_000), { tenant: "u" })).toMatchObject({
      admit: false,
      limit: 'tenant "u" tpd',
      etaMs: undefined,
    });
    // The same answer over HTTP, the run's tags in the body.
    const service = new RunService(db, [agent(600)]);
    const app = createApi({ service, quota });
    const check = async (tags?: Record<string, string>) =>
      (
        await app.request("/v1/quota/check", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ agent: "capped-600", ...(tags ? { tags } : {}) }),
        })
      ).json();
    expect(await check({ tenant: "t" })).toMatchObject({
      can_start: false,
      waiting_for: { limit: 'tenant "t" tpd' },
    });
    expect(await check()).toMatchObject({ can_start: true, waiting_for: null });
  });

  describe("admission shares a cap's per-minute limits among the runs it holds", () => {
    const paced = defineAgent({
      name: "capped-pace",
      estimate: { llmCalls: 60, models: ["fast"] },
      run: async () => null,
    });

    /**
     * A QuotaService over the caps, for "capped-pace": its calls so far took a second each,
     * so a run makes 60 calls a minute, and a 120 RPM cap carries two runs at full speed,
     * plus two whose whole forecast fits in the 120 banked: a share of 4.
     */
    async function admission(caps: Parameters<typeof config>[0], fairness?: Fairness) {
      const gw = await serve(caps);
      const quota = new QuotaService(db, gw.gateway, 0, fairness);
      quota.jitter = () => 1;
      await db.query(
        `INSERT INTO outlast.gateway_calls (project, agent, requested, provider, model, outcome,
           status, input_tokens, output_tokens, latency_ms)
         SELECT 'default', 'capped-pace', 'fast', 'sim', 'gpt-4o-mini', 'ok', 200, 50, 50, 1000
         FROM generate_series(1, 10)`,
      );
      await db.query("DELETE FROM outlast.runs WHERE agent = 'capped-pace'");
      return quota;
    }

    /** `n` runs of "capped-pace" executing, with these tags. */
    const running = (tags: Record<string, string>, n: number) =>
      db.query(
        `INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts, tags)
         SELECT 'default', gen_random_uuid(), 'capped-pace', 'default', 'running', 1, $2::jsonb
         FROM generate_series(1, $1::int)`,
        [n, JSON.stringify(tags)],
      );

    afterAll(async () => {
      await db.query("DELETE FROM outlast.runs WHERE agent = 'capped-pace'");
    });

    test("a tenant's cap counts that tenant's runs", async () => {
      const quota = await admission({ tenant: { "*": { rpm: 120 } } });
      await running({ tenant: "t" }, 5);
      await running({ tenant: "u" }, 1);
      // Tenant t has five going (the one being decided among them), over the four its cap
      // carries; a run takes a minute at full speed, shared four ways: a slot in ~15 s.
      expect(await quota.check(paced, { tenant: "t" })).toMatchObject({
        admit: false,
        limit: 'tenant "t" rpm',
        etaMs: 15_000,
        reason: expect.stringContaining('the rpm limit of tenant "t"'),
      });
      // Tenant u's bucket is its own, and an untagged run is held to no tenant cap.
      expect(await quota.check(paced, { tenant: "u" })).toMatchObject({ admit: true });
      expect(await quota.check(paced)).toMatchObject({ admit: true });
    });

    test("a feature's cap counts that feature's runs, whatever their tenant", async () => {
      const quota = await admission({ feature: { "*": { rpm: 120 } } });
      await running({ feature: "search", tenant: "a" }, 3);
      await running({ feature: "search", tenant: "b" }, 2);
      await running({ feature: "chat" }, 3);
      await running({ feature: "" }, 6);
      expect(await quota.check(paced, { feature: "search", tenant: "b" })).toMatchObject({
        admit: false,
        limit: 'feature "search" rpm',
      });
      expect(await quota.check(paced, { feature: "chat" })).toMatchObject({ admit: true });
      // An empty tag is no feature: its calls carry none, so no cap holds its runs.
      expect(await quota.check(paced, { feature: "" })).toMatchObject({ admit: true });
    });

    test("with fairness on, a project's cap is split among its tenants", async () => {
      const caps = { project: { default: { rpm: 120 } } };
      const fair = await admission(caps, new Fairness({}));
      await running({ tenant: "A" }, 4);
      await running({ tenant: "B" }, 1);
      // A's burst fills the share of 4; B still gets its half of it.
      expect(await fair.check(paced, { tenant: "B" })).toMatchObject({ admit: true });
      await running({ tenant: "A" }, 1);
      const overA = await fair.check(paced, { tenant: "A" });
      expect(overA).toMatchObject({ admit: false, limit: 'project "default" rpm' });
      expect(overA.admit ? "" : overA.reason).toMatch(/tenant "A" .*share of 2 /);
      // Fairness off: the project's share is the agent's, whoever asks.
      const plain = await admission(caps);
      await running({ tenant: "A" }, 4);
      await running({ tenant: "B" }, 1);
      expect(await plain.check(paced, { tenant: "B" })).toMatchObject({ admit: false });
    });
  });

  test("a named cap overrides the default, and feature caps hold alongside tenant caps", async () => {
    const gw = await serve({
      tenant: { "*": { rpm: 1 }, vip: { rpm: 10 } },
      feature: { search: { rpm: 2 } },
    });
    const vip = { ...NO_WAIT, "x-outlast-tenant": "vip" };
    for (let i = 0; i < 3; i++) expect((await post(gw, vip)).status).toBe(200);
    const search = { ...vip, "x-outlast-feature": "search" };
    expect((await post(gw, search)).status).toBe(200);
    expect((await post(gw, search)).status).toBe(200);
    const refused = await post(gw, search);
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toContain('feature "search" is over its rpm cap');
    // The tenant's own bucket was given back what the refused call had taken from it.
    expect((await post(gw, vip)).status).toBe(200);
  });

  test("over a concurrency cap a caller waits for the slot instead of failing", async () => {
    const gw = await serve({ tenant: { "*": { concurrency: 1 } } });
    const t = { "x-outlast-tenant": "solo" };
    const t0 = Date.now();
    const both = await Promise.all([post(gw, t), post(gw, t)]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    // The simulator takes 150 ms a call: one after the other, not side by side.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    // A caller told not to wait gets the 429 at once instead: the next test, which holds
    // the slot with a stream (two calls sent together may reach the gateway in any order).
  });

  test("a streamed answer holds its caps until the stream ends, then gives them back", async () => {
    // The stream's content comes over 1 s: the next call is sent well before its end.
    const gw = await serve({ tenant: { "*": { concurrency: 1 } } }, slowSim);
    const t = { "x-outlast-tenant": "streamer" };
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...t },
      body: JSON.stringify({
        model: "fast",
        stream: true,
        messages: [{ role: "user", content: "stream me" }],
        max_tokens: 16,
      }),
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    // Mid-stream, the slot is taken.
    const during = await post(gw, { ...t, ...NO_WAIT });
    expect(during.status).toBe(429);
    expect(during.body.error.message).toContain("concurrency cap");
    while (!(await reader.read()).done) {}
    await gw.gateway.flush();
    expect((await post(gw, { ...t, ...NO_WAIT })).status).toBe(200);
  });

  test("a cap is charged what the provider billed, not the reservation", async () => {
    // A daily cap: its refill (~0.01 token a second) leaves what is left independent of
    // how long the calls took (a per-minute cap refilled 40 tokens in 2.4 s).
    const gw = await serve({ tenant: { "*": { tpd: 1_000 } } });
    const t = { ...NO_WAIT, "x-outlast-tenant": "metered" };
    // Each call reserves its input plus max_tokens (400); the simulator bills ~45 tokens.
    for (let i = 0; i < 6; i++) {
      expect((await post(gw, t, 400)).status).toBe(200);
      await gw.gateway.flush();
    }
    const [row] = await gw.gateway
      .usage({ groupBy: ["tenant"] })
      .then((rows) => rows.filter((r) => r.tenant === "metered"));
    const billed = Number(row?.input_tokens) + Number(row?.output_tokens);
    expect(billed).toBeLessThan(400);
    // What is left is 1,000 minus what was billed: a call reserving more than that waits,
    // one reserving less goes through.
    const over = await post(gw, t, 1_000 - billed + 40);
    expect(over.status).toBe(429);
    expect(over.body.error.message).toContain("tpd cap");
    expect((await post(gw, t, 1_000 - billed - 150)).status).toBe(200);
    // A call that could never fit is told so.
    const huge = await post(gw, t, 5_000);
    expect(huge.status).toBe(429);
    expect(huge.body.error.code).toBe("OUTLAST_GATEWAY_TOO_LARGE");
  });

  test("two gateways on one store share a cap, as separate processes do", async () => {
    const one = await serve({ tenant: { "*": { rpm: 3 } } });
    const two = await serveGateway(db, config({ tenant: { "*": { rpm: 3 } } }));
    open.push(two);
    // A short wait, not none: each process takes a little credit ahead of need, and gives
    // what it does not use back after 50 ms (limiter/key-limiter.ts). The two gateways
    // send at the same time, each one call after another: with three calls queued at
    // once, a process prefetches credit for the ones behind the head (here 0.15 of a
    // request each), and the last call that fits the cap was refused in 3 runs of 24 while
    // that credit sat idle in the other process.
    const t = { "x-outlast-wait": "1", "x-outlast-tenant": "shared" };
    const inTurn = async (g: GatewayServer) => {
      const out: Awaited<ReturnType<typeof post>>[] = [];
      for (let i = 0; i < 3; i++) out.push(await post(g, t));
      return out;
    };
    const statuses = (await Promise.all([inTurn(one), inTurn(two)])).flat();
    expect(statuses.filter((r) => r.status === 200)).toHaveLength(3);
    expect(statuses.filter((r) => r.status === 429)).toHaveLength(3);
    expect((await sim.stats()).requests).toBe(3);
  });

  test("ctx.llm's calls are held to the caps of their attribution and park as throttled", async () => {
    await db.exec("TRUNCATE outlast.gateway_buckets, outlast.gateway_leases");
    const gateway = createGateway({
      db,
      config: {
        ...config({ tenant: { "*": { rpm: 1 } } }),
        gateway: { caps: { tenant: { "*": { rpm: 1 } } }, llmMaxWaitMs: 0 },
      },
      log: silentLogger,
    });
    try {
      const req = { model: "fast", messages: [{ role: "user" as const, content: "hi" }] };
      const opts = { signal: new AbortController().signal, tenant: "llm-tenant" };
      await gateway.chat(req, opts);
      const err = await gateway.chat(req, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RateLimitedError);
      expect((err as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
      // Another tenant is not held by it.
      await gateway.chat(req, { ...opts, tenant: "other" });
    } finally {
      await gateway.close();
    }
  });
});
