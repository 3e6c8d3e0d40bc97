/**
 * Run-scoped tokens: `ctx.runToken()` gives a run's code an `olr_` credential that acts on
 * that run alone (another run is a 404, any other route a 403), calls the gateway
 * attributed to the run whatever the headers say, and is refused once the run ends —
 * however it ends (here: a worker finishing it, and a cancel through the service).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { CredentialStore } from "../../src/auth/credentials.js";
import { mintRunToken } from "../../src/auth/keys.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { attribution, StoreKeys } from "../../src/gateway/http/request.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { call } from "../api/http.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { resetKeyTables } from "../helpers/keys.js";

const BOOT = "sk-run-tokens-0123456789abcdef";

/** The tokens the `holder` agent's code got, by run id. */
const seen = new Map<string, { first: string; second: string }>();
let release: (() => void) | undefined;

const agents = [
  defineAgent({ name: "noop", run: async () => null }),
  defineAgent({
    name: "holder",
    run: async (ctx) => {
      const first = await ctx.runToken();
      const second = await ctx.runToken();
      seen.set(ctx.runId, { first, second });
      await ctx.step(
        "hold",
        () =>
          new Promise<void>((r) => {
            release = r;
          }),
      );
      return { same: first === second };
    },
  }),
];

describe.each(BACKENDS)("run tokens on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let store: CredentialStore;
  let service: RunService;
  let app: OpenAPIHono;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
  });
  afterAll(async () => {
    await close();
  });
  beforeEach(async () => {
    await resetKeyTables(db);
    store = new CredentialStore({ db, bootstrap: [BOOT], pollMs: 100 });
    await store.start();
    service = new RunService(db, agents);
    await service.start();
    app = createApi({ service, credentials: store, log: silentLogger });
  });
  afterEach(async () => {
    await service.stop();
    await store.close();
  });

  it("acts on its own run only, and ends when the run is cancelled", async () => {
    const { run } = await service.submit({ agent: "noop", tags: { feature: "f", tenant: "t" } });
    const { run: other } = await service.submit({ agent: "noop" });
    const token = await mintRunToken(db, {
      runId: run.id,
      project: "default",
      agent: "noop",
      feature: "f",
      tenant: "t",
    });
    expect(token).toMatch(/^olr_/);
    await store.refresh();
    const h = auth(token);
    expect((await call(app, "GET", `/v1/runs/${run.id}`, { headers: h })).status).toBe(200);
    expect((await call(app, "GET", `/v1/runs/${run.id}/steps`, { headers: h })).status).toBe(200);
    const sig = await call(app, "POST", `/v1/runs/${run.id}/signals/go`, { json: {}, headers: h });
    expect(sig.status).toBe(202);
    const theirs = await call(app, "GET", `/v1/runs/${other.id}`, { headers: h });
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe("OUTLAST_RUN_NOT_FOUND");
    for (const [method, path] of [
      ["GET", "/v1/runs"],
      ["POST", "/v1/runs"],
      ["POST", `/v1/runs/${run.id}/cancel`],
      ["GET", "/v1/keys"],
      ["GET", "/v1/workers"],
    ] as const) {
      const res = await call(app, method, path, {
        headers: h,
        ...(method === "POST" ? { json: { agent: "noop" } } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // The gateway attributes its calls to the run, whatever the headers claim.
    const header = (name: string) =>
      ({
        authorization: `Bearer ${token}`,
        "x-outlast-run-id": other.id,
        "x-outlast-agent": "someone-else",
        "x-outlast-feature": "other",
      })[name];
    const base = new StoreKeys(store).authenticate(header, "openai");
    expect(attribution(header, base)).toMatchObject({
      project: "default",
      runId: run.id,
      agent: "noop",
      feature: "f",
      tenant: "t",
    });

    await service.cancel(run.id);
    await store.refresh();
    expect((await call(app, "GET", `/v1/runs/${run.id}`, { headers: h })).status).toBe(401);
  });

  it("ctx.runToken() mints one token per execution, refused once the run succeeds", async () => {
    const worker = new Worker({ db, agents, log: silentLogger, pollIntervalMs: 50 });
    await worker.start();
    try {
      const { run } = await service.submit({ agent: "holder" });
      const t0 = Date.now();
      while (!seen.has(run.id) || !release) {
        if (Date.now() - t0 > 10_000) throw new Error("the run never asked for its token");
        await new Promise((r) => setTimeout(r, 20));
      }
      const { first, second } = seen.get(run.id)!;
      expect(second).toBe(first);
      await store.refresh();
      expect((await call(app, "GET", `/v1/runs/${run.id}`, { headers: auth(first) })).status).toBe(
        200,
      );
      const [row] = await db.query<{ secret_hash: string; source: string }>(
        "SELECT secret_hash, source FROM outlast.api_keys WHERE run_id = $1",
        [run.id],
      );
      expect(row?.source).toBe("run");
      expect(JSON.stringify(row)).not.toContain(first.slice(17));
      const steps = JSON.stringify(await service.steps(run.id));
      expect(steps).not.toContain(first);
      release?.();
      release = undefined;
      const { finished } = await service.waitFor(run.id, 10_000);
      expect(finished).toBe(true);
      await store.refresh();
      expect((await call(app, "GET", `/v1/runs/${run.id}`, { headers: auth(first) })).status).toBe(
        401,
      );
    } finally {
      await worker.stop(1_000);
    }
  });
});
