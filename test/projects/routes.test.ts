/**
 * Every route of the route table, asked by an admin key of project "beta" for project
 * "alpha"'s resource, answers 404 — the same as a resource that does not exist — and
 * every list answers without alpha's resources. The routes come from ROUTE_ROLES (which
 * createApi checks against the app's routes), so a route added later fails here until it
 * has a fixture below or a stated reason it holds no project's resource.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { ROUTE_ROLES } from "../../src/api/route-roles.js";
import { CredentialStore } from "../../src/auth/credentials.js";
import { createKey } from "../../src/auth/keys.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { TerminalError } from "../../src/errors.js";
import { createGateway, type Gateway, GatewayHttp, mountGateway } from "../../src/gateway/index.js";
import { createMetrics } from "../../src/metrics/index.js";
import { QuotaService } from "../../src/quota/admission.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { WebhookStore } from "../../src/webhooks/store.js";
import { call } from "../api/http.js";
import { openTestDb } from "../helpers/db.js";
import { resetKeyTables } from "../helpers/keys.js";
import { until } from "../helpers/processes.js";

/** Alpha's resources, made once; each route's fixture picks its parameters from them. */
interface Alpha {
  waitingRun: string;
  failedRun: string;
  webhook: string;
  delivery: string;
  key: string;
  thread: string;
}

/** Path parameters naming one of alpha's resources, by route path. */
const FIXTURES: Record<string, (a: Alpha) => Record<string, string>> = {
  "/v1/runs/:id": (a) => ({ id: a.waitingRun }),
  "/v1/runs/:id/steps": (a) => ({ id: a.waitingRun }),
  "/v1/runs/:id/events": (a) => ({ id: a.waitingRun }),
  "/v1/runs/:id/cancel": (a) => ({ id: a.waitingRun }),
  "/v1/runs/:id/signals/:name": (a) => ({ id: a.waitingRun, name: "go" }),
  "/v1/runs/:id/resume": (a) => ({ id: a.failedRun }),
  "/v1/webhooks/:id": (a) => ({ id: a.webhook }),
  "/v1/webhooks/deliveries/:id": (a) => ({ id: a.delivery }),
  "/v1/webhooks/deliveries/:id/redeliver": (a) => ({ id: a.delivery }),
  "/v1/keys/:id": (a) => ({ id: a.key }),
  "/v1/threads/:id": (a) => ({ id: a.thread }),
  "/v1/threads/:id/messages": (a) => ({ id: a.thread }),
  "/v1/threads/:id/state": (a) => ({ id: a.thread }),
  "/v1/threads/:id/history": (a) => ({ id: a.thread }),
  "/v1/threads/:id/fork": (a) => ({ id: a.thread }),
};

/** Routes with a parameter that names no project's resource. */
const NOT_A_RESOURCE: Record<string, string> = {
  "/docs/assets/:file": "the API docs' static files",
  "/v1/responses/:id": "the gateway stores no responses (always 400)",
};

const fill = (path: string, params: Record<string, string>) =>
  path.replace(/:(\w+)/g, (_, k: string) => params[k] ?? `:${k}`);

describe("another project's resources, through every route", () => {
  let db: Db;
  let close: () => Promise<void>;
  let gateway: Gateway;
  let store: CredentialStore;
  let service: RunService;
  let worker: Worker;
  let app: OpenAPIHono;
  let alpha: Alpha;
  const keys = { alpha: "", beta: "" };
  const as = (project: keyof typeof keys) => ({ authorization: `Bearer ${keys[project]}` });
  const agents = [
    defineAgent({ name: "waits", run: (ctx) => ctx.waitForSignal("go") }),
    defineAgent({
      name: "fails",
      retry: { maxAttempts: 1 },
      run: async () => {
        throw new TerminalError("as planned");
      },
    }),
  ];

  beforeAll(async () => {
    ({ db, close } = await openTestDb("postgres"));
    await resetKeyTables(db);
    gateway = createGateway({ db, config: {}, log: silentLogger });
    await gateway.start();
    store = new CredentialStore({ db, bootstrap: ["sk-boot-0123456789abcdef"], pollMs: 100 });
    await store.start();
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, pollIntervalMs: 50 });
    await worker.start();
    app = createApi({
      service,
      credentials: store,
      quota: new QuotaService(db, gateway),
      metrics: createMetrics({ db }),
      log: silentLogger,
      extraRoutes: (a) => mountGateway(a, gateway, new GatewayHttp(gateway, store)),
    });
    for (const project of ["alpha", "beta"] as const) {
      keys[project] = (
        await createKey(db, { project, role: "admin", name: "admin", actor: "cli" })
      ).token;
    }
    await store.refresh();

    // Alpha's resources, made through the API with alpha's key.
    const submit = async (agent: string) =>
      (await call(app, "POST", "/v1/runs", { json: { agent }, headers: as("alpha") })).body
        .id as string;
    const hook = await call(app, "POST", "/v1/webhooks", {
      json: { url: "https://hooks.example.com/alpha", events: ["run.*"] },
      headers: as("alpha"),
    });
    expect(hook.status).toBe(201);
    // After the subscription: it gets the events from its creation on.
    const waitingRun = await submit("waits");
    const failedRun = await submit("fails");
    const key = await call(app, "POST", "/v1/keys", {
      json: { name: "reader", role: "read" },
      headers: as("alpha"),
    });
    expect(key.status).toBe(201);
    const thread = await call(app, "POST", "/v1/threads", {
      json: { id: "alpha-thread", metadata: { team: "alpha" } },
      headers: as("alpha"),
    });
    expect(thread.status).toBe(201);
    const webhooks = new WebhookStore(db);
    await until(
      async () =>
        (await service.get(failedRun, "alpha")).status === "failed" &&
        (await service.get(waitingRun, "alpha")).status === "waiting",
      30_000,
      "alpha's runs to fail and wait",
    );
    let delivery: string | undefined;
    await until(
      async () => {
        await webhooks.fanOut(1000);
        [delivery] = (await webhooks.listDeliveries({ project: "alpha", limit: 1 })).map(
          (d) => d.id,
        );
        return delivery !== undefined;
      },
      10_000,
      "a delivery of alpha's webhook",
    );
    alpha = {
      waitingRun,
      failedRun,
      webhook: hook.body.id,
      delivery: delivery!,
      key: key.body.id,
      thread: "alpha-thread",
    };
  }, 120_000);

  afterAll(async () => {
    await worker?.stop(500);
    await service?.stop();
    await store?.close();
    await gateway?.close();
    await close?.();
  });

  const routes = Object.keys(ROUTE_ROLES).map((r) => {
    const [method, path] = r.split(" ") as [string, string];
    return { method, path };
  });

  it("every route with a parameter has a fixture or a reason", () => {
    const missing = routes
      .filter((r) => r.path.includes(":"))
      .filter((r) => !(r.path in FIXTURES) && !(r.path in NOT_A_RESOURCE))
      .map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it.each(routes.filter((r) => r.path in FIXTURES))(
    "$method $path: beta's admin key gets 404 for alpha's resource, alpha's does not",
    async ({ method, path }) => {
      const url = fill(path, FIXTURES[path]!(alpha));
      const json =
        method === "POST" ? {} : method === "PATCH" ? { metadata: { by: "beta" } } : undefined;
      const beta = await call(app, method, url, { json, headers: as("beta") });
      expect({ status: beta.status, body: beta.body }).toMatchObject({
        status: 404,
        body: { error: { code: expect.stringMatching(/_NOT_FOUND$/) } },
      });
      // The fixture names a real resource of alpha's: its own key does not get a 404
      // (asked after beta, since some of these routes change the resource).
      if (method === "GET") {
        const own = await call(app, method, url, {
          headers: { ...as("alpha"), accept: "application/json" },
        });
        expect(own.status, JSON.stringify(own.body)).toBe(200);
      }
    },
  );

  it("no list shows beta any of alpha's resources", async () => {
    const ids = Object.values(alpha);
    const lists = routes.filter(
      (r) =>
        r.method === "GET" && !r.path.includes(":") && ROUTE_ROLES[`GET ${r.path}`] !== "public",
    );
    expect(lists.length).toBeGreaterThan(5);
    for (const { path } of lists) {
      const res = await call(app, "GET", path, { headers: as("beta") });
      const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
      for (const id of ids) expect(text, `GET ${path} shows ${id}`).not.toContain(id);
      // The same lists show alpha its own (for those that list these kinds of resource).
    }
    const own = await call(app, "GET", "/v1/runs", { headers: as("alpha") });
    expect(JSON.stringify(own.body)).toContain(alpha.waitingRun);
  });

  it("/metrics, the whole deployment's figures, are refused to another project's key", async () => {
    expect((await call(app, "GET", "/metrics", { headers: as("beta") })).status).toBe(403);
    const operator = { authorization: "Bearer sk-boot-0123456789abcdef" };
    expect((await call(app, "GET", "/metrics", { headers: operator })).status).toBe(200);
  });

  it("beta's mutations of alpha's resources changed nothing", async () => {
    expect((await service.get(alpha.waitingRun, "alpha")).status).toBe("waiting");
    expect((await service.get(alpha.failedRun, "alpha")).status).toBe("failed");
    expect(await new WebhookStore(db).getSubscription(alpha.webhook, "alpha")).toBeDefined();
    const thread = await call(app, "GET", `/v1/threads/${alpha.thread}`, { headers: as("alpha") });
    expect(thread.body).toMatchObject({ id: alpha.thread, metadata: { team: "alpha" } });
    const keyList = await call(app, "GET", "/v1/keys", { headers: as("alpha") });
    expect(JSON.stringify(keyList.body)).toContain(alpha.key);
  });
});
