/**
 * The model endpoints on node:http (`gatewayFastPath`) in front of the Hono app, over a
 * real socket. The same app is also served without the fast path, and every answer is
 * compared: the fast path must be indistinguishable from the Hono route it stands in for,
 * and must leave to Hono whatever it does not serve (auth refusals, oversized and chunked
 * bodies, other routes).
 */
import http from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createApi } from "../../src/api/app.js";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { resolveConfig } from "../../src/config/load.js";
import { RunService } from "../../src/engine/run-service.js";
import {
  createGateway,
  type Gateway,
  GatewayHttp,
  gatewayFastPath,
  mountGateway,
} from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { startHttpApi } from "../../src/system/start.js";
import { silentLogger } from "../../src/util/log.js";
import { type SimProcess, simConfig, startSimProcess } from "./helpers.js";

const API_KEY = "fast-path-test-key-0123456789";
const LIMIT = 4096;

let sim: SimProcess;
let db: Db;
let gateway: Gateway;
let fast: ApiServer;
let hono: ApiServer;
/** What the fast path did with each request it saw: true when it served it. */
const taken: boolean[] = [];

beforeAll(async () => {
  [sim, db] = await Promise.all([
    startSimProcess(["--latency-ms", "1-3"]),
    openStore({ dataDir: "memory" }),
  ]);
  gateway = createGateway({ db, config: simConfig(sim.url), log: silentLogger });
  await gateway.start();
  const gw = new GatewayHttp(gateway);
  const app = createApi({
    service: new RunService(db, []),
    apiKey: API_KEY,
    extraBodyLimitBytes: LIMIT,
    log: silentLogger,
    extraRoutes: (a) => mountGateway(a, gateway, gw),
  });
  const listener = gatewayFastPath(gw, { apiKey: API_KEY, bodyLimitBytes: LIMIT });
  fast = await startApiServer(app, {
    port: 0,
    hostname: "127.0.0.1",
    graceMs: 100,
    fastPath: (req, res) => {
      const served = listener(req, res);
      taken.push(served);
      return served;
    },
  });
  hono = await startApiServer(app, { port: 0, hostname: "127.0.0.1", graceMs: 100 });
});

afterAll(async () => {
  await fast?.close();
  await hono?.close();
  await gateway?.close();
  await sim?.stop();
  await db?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined && !opts.chunked)
      headers["content-length"] = Buffer.byteLength(opts.body);
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.chunked && opts.body !== undefined) {
      const half = opts.body.length >> 1;
      req.write(opts.body.slice(0, half));
      req.end(opts.body.slice(half));
    } else req.end(opts.body);
  });
}

/** Sends to both servers; returns the fast server's answer and whether it took the fast path. */
async function both(
  method: string,
  path: string,
  opts: Parameters<typeof send>[3] = {},
): Promise<{ a: Answer; b: Answer; served: boolean }> {
  taken.length = 0;
  const a = await send(fast.url, method, path, opts);
  const served = taken.at(-1) === true;
  const b = await send(hono.url, method, path, opts);
  return { a, b, served };
}

/** Headers that must match: all but the per-request and per-connection ones. */
function stable(h: http.IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    if (["date", "x-request-id", "request-id", "connection", "keep-alive"].includes(k)) continue;
    if (k.startsWith("x-ratelimit-")) continue; // the limiter's own view changes per call
    out[k] = v;
  }
  return out;
}

function expectSame(x: { a: Answer; b: Answer }): void {
  expect(x.a.status).toBe(x.b.status);
  expect(stable(x.a.headers)).toEqual(stable(x.b.headers));
}

const auth = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }], ...extra });

test("a chat completion is served on the fast path, as the Hono route serves it", async () => {
  const r = await both("POST", "/v1/chat/completions", { headers: auth, body: chat() });
  expect(r.served).toBe(true);
  expect(r.a.status).toBe(200);
  expectSame(r);
  expect(r.a.headers["content-type"]).toBe("application/json");
  expect(r.a.headers["content-length"]).toBe(String(Buffer.byteLength(r.a.body)));
  expect(JSON.parse(r.a.body).object).toBe("chat.completion");
  // A query string does not change the route.
  expect(
    (await both("POST", "/v1/chat/completions?x=1", { headers: auth, body: chat() })).served,
  ).toBe(true);
});

test("streaming answers are relayed as SSE on the fast path, in both wire formats", async () => {
  const o = await both("POST", "/v1/chat/completions", {
    headers: auth,
    body: chat({ stream: true }),
  });
  expect(o.served).toBe(true);
  expectSame(o);
  expect(o.a.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
  expect(o.a.headers["transfer-encoding"]).toBe("chunked");
  expect(o.a.body.trimEnd().endsWith("data: [DONE]")).toBe(true);

  const m = await both("POST", "/v1/messages", {
    headers: { ...auth, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model: "claude/claude-sonnet-4-5",
      max_tokens: 16,
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  expect(m.served).toBe(true);
  expectSame(m);
  expect(m.a.body).toContain("event: message_stop");
});

test("a missing or wrong API key is left to Hono's auth: 401 OUTLAST_UNAUTHORIZED", async () => {
  const refusals: Record<string, string>[] = [
    { "content-type": "application/json" },
    { "content-type": "application/json", authorization: "Bearer wrong-key-0123456789" },
    // As long as the right key, one character off: the comparison is of the bytes.
    {
      "content-type": "application/json",
      authorization: `Bearer ${API_KEY.slice(0, -1)}X`,
    },
    { "content-type": "application/json", authorization: `Bearer ${API_KEY}0` },
  ];
  for (const headers of refusals) {
    const r = await both("POST", "/v1/chat/completions", { headers, body: chat() });
    expect(r.served).toBe(false);
    expectSame(r);
    expect(r.a.status).toBe(401);
    expect(JSON.parse(r.a.body).error.code).toBe("OUTLAST_UNAUTHORIZED");
    expect(r.a.headers["www-authenticate"]).toMatch(/^Bearer realm="outlast"/);
    expect(r.a.body).toBe(r.b.body);
  }
});

test("a body over the limit is left to Hono's body limit: 413 OUTLAST_BODY_TOO_LARGE", async () => {
  const big = chat({ pad: "x".repeat(LIMIT) });
  for (const chunked of [false, true]) {
    const r = await both("POST", "/v1/messages", { headers: auth, body: big, chunked });
    expect(r.served).toBe(false);
    expectSame(r);
    expect(r.a.status).toBe(413);
    expect(JSON.parse(r.a.body).error.code).toBe("OUTLAST_BODY_TOO_LARGE");
    expect(r.a.body).toBe(r.b.body);
  }
  // A chunked body within the limit is served by Hono too, and succeeds.
  const small = await both("POST", "/v1/chat/completions", {
    headers: auth,
    body: chat(),
    chunked: true,
  });
  expect(small.served).toBe(false);
  expect(small.a.status).toBe(200);
});

test("broken JSON and bad fields get the gateway's 400s, the same on both paths", async () => {
  for (const [path, body] of [
    ["/v1/chat/completions", "{not json"],
    ["/v1/chat/completions", "[1]"],
    ["/v1/chat/completions", ""],
    ["/v1/chat/completions", `\uFEFF${chat()}`],
    ["/v1/messages", JSON.stringify({ model: "x", messages: [] })],
    ["/v1/messages", chat()],
  ] as const) {
    const r = await both("POST", path, { headers: auth, body });
    expect(r.served).toBe(true);
    expectSame(r);
    if (!body.startsWith("\uFEFF")) {
      expect(r.a.body).toBe(r.b.body);
      expect(r.a.status).toBe(400);
      const e = JSON.parse(r.a.body);
      expect(e.error.code ?? e.error.type).toMatch(
        /OUTLAST_GATEWAY_INVALID_REQUEST|invalid_request_error/,
      );
    }
  }
  const wait = await both("POST", "/v1/chat/completions", {
    headers: { ...auth, "x-outlast-wait": "soon" },
    body: chat(),
  });
  expect(wait.served).toBe(true);
  expect(wait.a.status).toBe(400);
  expect(wait.a.body).toBe(wait.b.body);
});

test("other methods and routes reach Hono unchanged", async () => {
  const cases: [string, string, Record<string, string>][] = [
    ["GET", "/healthz", {}],
    ["GET", "/v1/models", auth],
    ["GET", "/v1/chat/completions", auth],
    ["POST", "/v1/chat/completions/", auth],
    ["POST", "/v1/nowhere", auth],
  ];
  for (const [method, path, headers] of cases) {
    const body = method === "POST" ? chat() : undefined;
    const r = await both(method, path, { headers, ...(body === undefined ? {} : { body }) });
    expect(r.served, `${method} ${path}`).toBe(false);
    expectSame(r);
    expect(r.a.body).toBe(r.b.body);
  }
});

test("startHttpApi serves the whole API with the fast path; the OpenAPI document is the app's", async () => {
  const server = await startHttpApi({
    service: new RunService(db, []),
    gateway,
    config: resolveConfig({}, "test"),
    log: silentLogger,
    apiKey: API_KEY,
    port: 0,
    host: "127.0.0.1",
  });
  try {
    const doc = await send(server.url, "GET", "/openapi.json");
    expect(doc.status).toBe(200);
    const viaHono = await send(hono.url, "GET", "/openapi.json");
    expect(JSON.parse(doc.body).paths).toEqual(JSON.parse(viaHono.body).paths);
    expect((await send(server.url, "GET", "/healthz")).status).toBe(200);
    const ok = await send(server.url, "POST", "/v1/chat/completions", {
      headers: auth,
      body: chat(),
    });
    expect(ok.status).toBe(200);
    const refused = await send(server.url, "POST", "/v1/chat/completions", { body: chat() });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body).error.code).toBe("OUTLAST_UNAUTHORIZED");
  } finally {
    await server.close();
  }
});
