/**
 * Projects partition the data (issue 20, item 1), below the HTTP API: runs and their parts,
 * idempotency keys, webhooks and their deliveries, usage, caps' buckets, the response
 * cache, and quota admission — on PGlite and PostgreSQL. The API's side (every route, a
 * key of another project gets 404) is test/api/projects-routes.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { RequestError } from "../../src/errors.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { QuotaService } from "../../src/quota/admission.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { WebhookStore } from "../../src/webhooks/store.js";
import { type SimProcess, startSimProcess } from "../gateway/helpers.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";

/**
 * Every table of the schema is one of three kinds. A table added later that is none of
 * them fails the first test below: give it a `project` column (the default), or say here
 * through which scoped parent its rows are reached, or why it is deployment-wide.
 */
const THROUGH_PARENT: Record<string, string> = {
  steps: "runs (run_id)",
  signals: "runs (run_id)",
  events: "runs (run_id)",
  event_watchers: "runs (run_id): which runs some API process streams, no data",
  webhook_deliveries: "webhook_endpoints (endpoint_id)",
  webhook_attempts: "webhook_deliveries (delivery_id)",
};
const DEPLOYMENT_WIDE: Record<string, string> = {
  migrations: "the schema's version",
  projects: "the projects themselves (migration 013)",
  workers: "workers serve every project",
  gateway_buckets: "limiter state; caps' keys name their project (src/gateway/limiter/caps.ts)",
  gateway_leases: "limiter state, as gateway_buckets",
  gateway_waiters: "limiter state, as gateway_buckets",
  gateway_cache: "entries are keyed by a hash that includes the project (src/gateway/cache.ts)",
  webhook_cursor: "the fan-out's position in the events, one row",
  webhook_secrets: "named per project (defaultSecretName in src/webhooks/store.ts)",
};

describe("the schema", () => {
  it("has a project column on every table but those reached through a scoped parent or deployment-wide", async () => {
    const { db, close } = await openTestDb("pglite");
    try {
      const tables = await db.query<{ table_name: string; scoped: boolean }>(
        `SELECT t.table_name, EXISTS (
           SELECT 1 FROM information_schema.columns c
           WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
             AND c.column_name = 'project') AS scoped
         FROM information_schema.tables t
         WHERE t.table_schema = 'outlast' AND t.table_type = 'BASE TABLE'
         ORDER BY 1`,
      );
      const unexplained = tables
        .filter((t) => !t.scoped)
        .map((t) => t.table_name)
        .filter((n) => !(n in THROUGH_PARENT) && !(n in DEPLOYMENT_WIDE));
      expect(unexplained).toEqual([]);
      // The lists hold no table that has since been scoped or dropped.
      const unscoped = new Set(tables.filter((t) => !t.scoped).map((t) => t.table_name));
      for (const n of [...Object.keys(THROUGH_PARENT), ...Object.keys(DEPLOYMENT_WIDE)]) {
        expect(unscoped.has(n), `${n} is listed as unscoped`).toBe(true);
      }
      for (const n of ["runs", "webhook_endpoints", "gateway_calls", "usage_rollups"]) {
        expect(tables.find((t) => t.table_name === n)?.scoped, n).toBe(true);
      }
    } finally {
      await close();
    }
  });
});

const notFound = (p: Promise<unknown>) =>
  expect(p).rejects.toSatisfy(
    (e: unknown) => e instanceof RequestError && e.code === "OUTLAST_RUN_NOT_FOUND",
  );

let sim: SimProcess;
beforeAll(async () => {
  sim = await startSimProcess(["--latency-ms", "2-5"]);
});
afterAll(async () => {
  await sim?.stop();
});

describe.each(BACKENDS)("projects on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let gateway: Gateway;
  let service: RunService;
  let worker: Worker;
  const agents = [
    defineAgent({ name: "noop", run: async () => "ok" }),
    defineAgent({
      name: "asker",
      run: async (ctx) => {
        const child = await ctx.runAgent("noop", null);
        const r = await ctx.llm({ model: "fast", messages: [{ role: "user", content: "hi" }] });
        return { child, said: r.content };
      },
    }),
    defineAgent({
      name: "waits",
      run: async (ctx) => ctx.waitForSignal("go", { timeoutMs: 3_600_000 }),
    }),
  ];

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
    gateway = createGateway({
      db,
      log: silentLogger,
      config: {
        providers: { sim: { baseUrl: `${sim.url}/v1`, apiKey: "k" } },
        models: { fast: "sim/gpt-4o-mini" },
        gateway: {
          caps: {
            project: { capped: { rpm: 1 }, tiny: { tpd: 100 } },
            tenant: { acme: { rpm: 1 } },
          },
          llmMaxWaitMs: 0,
        },
      },
    });
    await gateway.start();
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, llm: gateway, pollIntervalMs: 50 });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop(500);
    await service?.stop();
    await gateway?.close();
    await close?.();
  });

  it("the same idempotency key in two projects makes two runs; in one project, one", async () => {
    const key = `k-${backend}-${Date.now()}`;
    const a = await service.submit({ project: "alpha", agent: "waits", idempotency_key: key });
    const b = await service.submit({ project: "beta", agent: "waits", idempotency_key: key });
    const again = await service.submit({ project: "alpha", agent: "waits", idempotency_key: key });
    expect(a.created && b.created).toBe(true);
    expect(b.run.id).not.toBe(a.run.id);
    expect([a.run.project, b.run.project]).toEqual(["alpha", "beta"]);
    expect(again).toMatchObject({ created: false, run: { id: a.run.id } });
    // Another project's agent under the same key is not a conflict there.
    await expect(
      service.submit({ project: "gamma", agent: "noop", idempotency_key: key }),
    ).resolves.toMatchObject({ created: true });
    for (const r of [a.run, b.run]) await service.cancel(r.id, r.project);
  });

  it("another project's run is not found by any method, and is not listed", async () => {
    const { run } = await service.submit({ project: "alpha", agent: "waits" });
    await notFound(service.get(run.id, "beta"));
    await notFound(service.steps(run.id, "beta"));
    await notFound(service.cancel(run.id, "beta"));
    await notFound(service.signal(run.id, "go", 1, "beta"));
    await notFound(service.resume(run.id, "beta"));
    await notFound(service.waitFor(run.id, 10, "beta"));
    await notFound(service.get(run.id)); // in-process callers are the default project
    const listed = async (project: string) =>
      (await service.list({ project, agent: "waits", limit: 100 })).runs.map((r) => r.id);
    expect(await listed("alpha")).toContain(run.id);
    expect(await listed("beta")).not.toContain(run.id);
    // Nothing happened to it.
    expect((await service.get(run.id, "alpha")).status).not.toBe("cancelled");
    await service.signal(run.id, "go", 1, "alpha");
    expect((await service.waitFor(run.id, 30_000, "alpha")).run.status).toBe("succeeded");
  });

  it("a run's children and its ctx.llm calls belong to its project", async () => {
    const { run } = await service.submit({ project: "alpha", agent: "asker" });
    const done = await service.waitFor(run.id, 30_000, "alpha");
    expect(done.run.status).toBe("succeeded");
    const children = await db.query<{ project: string }>(
      "SELECT project FROM outlast.runs WHERE parent_run_id = $1",
      [run.id],
    );
    expect(children).toEqual([{ project: "alpha" }]);
    await gateway.flush();
    const calls = await db.query<{ project: string }>(
      "SELECT project FROM outlast.gateway_calls WHERE run_id = $1",
      [run.id],
    );
    expect(calls).toEqual([{ project: "alpha" }]);
    expect(await gateway.usage({ project: "alpha", source: "raw" })).toMatchObject([
      { requests: 1 },
    ]);
    expect(await gateway.usage({ project: "beta", source: "raw" })).toMatchObject([
      { requests: 0 },
    ]);
  });

  it("a project's cap holds that project's runs only, and admission counts them", async () => {
    const quota = new QuotaService(db, gateway);
    // Its one call a minute spent by a run of "capped"; a run of another project is not held.
    const first = await service.submit({ project: "capped", agent: "asker" });
    expect((await service.waitFor(first.run.id, 30_000, "capped")).run.status).toBe("succeeded");
    const held = await service.submit({ project: "capped", agent: "asker" });
    const free = await service.submit({ project: "open", agent: "asker" });
    expect((await service.waitFor(free.run.id, 30_000, "open")).run.status).toBe("succeeded");
    await until(
      async () => (await service.get(held.run.id, "capped")).status === "throttled",
      30_000,
      "the capped project's second run to be throttled",
    );
    expect((await service.get(held.run.id, "capped")).waiting_for).toMatchObject({
      limit: expect.stringMatching(/^project "capped"/),
    });
    // The overview shows a project its own cap and throttled runs, not another's.
    const capped = await quota.overview("capped");
    const open = await quota.overview("open");
    expect(capped.limits.map((l) => l.target)).toContain('project "capped"');
    expect(open.limits.map((l) => l.target)).not.toContain('project "capped"');
    expect(capped.throttled.reduce((n, t) => n + t.runs, 0)).toBe(1);
    expect(open.throttled).toEqual([]);
    // Admission holds a run to its own project's caps: a run of 1,000 tokens cannot start
    // in a project with 100 a day, and can elsewhere.
    const big = { name: "big", estimate: { llmCalls: 1, tokens: 1_000, models: ["fast"] } };
    expect(await quota.check(big, { project: "tiny" })).toMatchObject({
      admit: false,
      limit: 'project "tiny" tpd',
    });
    expect(await quota.check(big, { project: "open" })).toMatchObject({ admit: true });
    await service.cancel(held.run.id, "capped");
  });

  it("a tenant's cap is counted per project", async () => {
    const req = { model: "fast", messages: [{ role: "user" as const, content: "t" }] };
    const signal = new AbortController().signal;
    await gateway.chat(req, { signal, project: "alpha", tenant: "acme" });
    await expect(
      gateway.chat(req, { signal, project: "alpha", tenant: "acme" }),
    ).rejects.toMatchObject({ name: "RateLimitedError" });
    // Tenant "acme" of another project has a bucket of its own.
    await expect(
      gateway.chat(req, { signal, project: "beta", tenant: "acme" }),
    ).resolves.toMatchObject({ content: expect.any(String) });
  });

  it("a cached answer is its project's own", async () => {
    const req = { model: "fast", messages: [{ role: "user" as const, content: "cache me" }] };
    const signal = new AbortController().signal;
    const entries = async () =>
      (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outlast.gateway_cache"))[0]!.n;
    const before = await entries();
    await gateway.chat(req, { signal, project: "alpha", cacheTtlSeconds: 60 });
    await until(async () => (await entries()) > before, 10_000, "the answer to be cached");
    const calls = (await sim.stats()).requests;
    await gateway.chat(req, { signal, project: "alpha", cacheTtlSeconds: 60 });
    expect((await sim.stats()).requests).toBe(calls); // a hit in its own project
    await gateway.chat(req, { signal, project: "beta", cacheTtlSeconds: 60 });
    expect((await sim.stats()).requests).toBe(calls + 1); // a miss in another
  });

  it("webhooks: a project's subscription gets its project's events only; its endpoints and deliveries are its own", async () => {
    const store = new WebhookStore(db);
    const alpha = await store.createSubscription({
      project: "alpha",
      url: "http://127.0.0.1:9/alpha",
      events: ["run.queued"],
    });
    const beta = await store.createSubscription({
      project: "beta",
      url: "http://127.0.0.1:9/beta",
      events: ["run.queued"],
    });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const a = await service.submit({ project: "alpha", agent: "noop", run_at: later });
    const b = await service.submit({ project: "beta", agent: "noop", run_at: later });
    await until(
      async () => {
        await store.fanOut(1000);
        return (await store.listDeliveries({ project: "beta", limit: 100 })).length > 0;
      },
      10_000,
      "the fan-out",
    );
    const runsOf = async (project: string, endpointId: string) =>
      (await store.listDeliveries({ project, endpointId, limit: 100 })).map((d) => d.run_id);
    expect(await runsOf("alpha", alpha.id)).toEqual([a.run.id]);
    expect(await runsOf("beta", beta.id)).toEqual([b.run.id]);
    // Another project's endpoint and deliveries are not found.
    expect(await store.getSubscription(alpha.id, "beta")).toBeUndefined();
    expect(await runsOf("beta", alpha.id)).toEqual([]);
    const [delivery] = await store.listDeliveries({ project: "alpha", limit: 1 });
    expect(await store.getDelivery(delivery!.id, "beta")).toBeUndefined();
    expect(await store.disableSubscription(alpha.id, "beta")).toBeUndefined();
    expect(await store.getSubscription(alpha.id, "alpha")).toBeDefined();
    // Each project signs with its own default secret.
    expect(await store.defaultSecret("alpha")).not.toBe(await store.defaultSecret("beta"));
    for (const r of [a.run, b.run]) await service.cancel(r.id, r.project);
  });
});
