/**
 * /openapi.json documents every route the server answers — the Hono app's (API and
 * gateway) and the gateway's node:http fast path's — and nothing else, and every
 * documented route answers (no "no such route" 404 or 405).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { resolveConfig } from "../../src/config/load.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { FAST_PATHS } from "../../src/gateway/http/node.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import { QuotaService } from "../../src/quota/admission.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { buildHttpApi } from "../../src/system/start.js";
import { silentLogger } from "../../src/util/log.js";

/** Served but deliberately not in the document: the document itself and its viewer. */
const UNDOCUMENTED = new Set(["GET /openapi.json", "GET /docs", "GET /docs/assets/{file}"]);

let db: Db;
let gateway: Gateway;
let service: RunService;
let server: ApiServer;
let routes: Set<string>;
const NO_DELIVERY = "00000000-0000-4000-8000-000000000000";

beforeAll(async () => {
  db = await openStore({ dataDir: "memory" });
  const config = resolveConfig(
    {
      agents: [defineAgent({ name: "noop", run: async () => 1 })],
      providers: { up: { baseUrl: "http://127.0.0.1:9/v1" } },
      models: { fast: "up/m" },
      webhooks: { allowPrivateAddresses: true },
    },
    "test",
  );
  gateway = createGateway({ db, config, log: silentLogger });
  service = new RunService(db, config.agents, ["default"]);
  await service.start();
  const quota = new QuotaService(db, gateway);
  const { app, fastPath } = buildHttpApi({
    service,
    gateway,
    quota,
    config,
    log: silentLogger,
    apiKey: undefined,
  });
  routes = new Set(
    app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
  );
  for (const p of FAST_PATHS) routes.add(`POST ${p}`);
  server = await startApiServer(app, { port: 0, hostname: "127.0.0.1", fastPath, graceMs: 100 });
});

afterAll(async () => {
  await server?.close();
  await service?.stop();
  await gateway?.close();
  await db?.close();
});

async function documented(): Promise<string[]> {
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

test("the document's operations are exactly the routes served, less the docs' own", async () => {
  const doc = await documented();
  expect(doc).toContain("POST /v1/responses");
  expect(doc).toContain("POST /v1/chat/completions");
  expect(new Set(doc)).toEqual(new Set([...routes].filter((r) => !UNDOCUMENTED.has(r))));
});

test("every documented operation answers: no 404 or 405 for want of a route", async () => {
  const run = (await (
    await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent: "noop" }),
    })
  ).json()) as { id: string };
  const hook = (await (
    await fetch(`${server.url}/v1/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "http://127.0.0.1:9/hook", events: ["run.failed"] }),
    })
  ).json()) as { id: string };
  const thread = await fetch(`${server.url}/v1/threads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "x" }),
  });
  expect(run.id).toBeTruthy();
  expect(hook.id).toBeTruthy();
  expect(thread.status).toBe(201);
  // Deletions last, so the resources stay for the other operations.
  const ops = (await documented()).sort(
    (a, b) => Number(a.startsWith("DELETE")) - Number(b.startsWith("DELETE")),
  );
  const answers: string[] = [];
  for (const op of ops) {
    const [method, path] = op.split(" ") as [string, string];
    const url = path
      .replace(/^\/v1\/runs\/\{id\}/, `/v1/runs/${run.id}`)
      .replace(/^\/v1\/webhooks\/deliveries\/\{id\}/, `/v1/webhooks/deliveries/${NO_DELIVERY}`)
      .replace(/^\/v1\/webhooks\/\{id\}/, `/v1/webhooks/${hook.id}`)
      .replace(/\{(\w+)\}/g, "x");
    const res = await fetch(`${server.url}${url}`, {
      method,
      headers: { "content-type": "application/json", accept: "application/json" },
      ...(method === "GET" || method === "DELETE" ? {} : { body: "{}" }),
    });
    const text = await res.text();
    answers.push(`${op} ${res.status} ${text.slice(0, 80)}`);
    expect(res.status, `${op} → ${res.status} ${text.slice(0, 200)}`).not.toBe(405);
    if (res.status === 404) {
      // Only a delivery and a key may be "not found": none exists to name. Their own
      // codes show the route was reached.
      expect(op, text).toMatch(/ \/v1\/(webhooks\/deliveries|keys)\/\{id\}/);
      expect(text).toMatch(/OUTLAST_(DELIVERY|KEY)_NOT_FOUND/);
    }
  }
  expect(answers.length).toBe(ops.length);
});
