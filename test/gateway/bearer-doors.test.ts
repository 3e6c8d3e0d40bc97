/**
 * The three doors that read `Authorization: Bearer <key>` accept and refuse the same
 * headers (src/util/bearer.ts): the API's auth middleware, the gateway's node:http fast
 * path in front of it, and the gateway's key book (config.gateway.keys). Over a real
 * socket where the door is one; the model asked for does not exist, so an accepted call
 * ends in the gateway's 404 without a provider.
 */
import http from "node:http";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { RunService } from "../../src/engine/run-service.js";
import { KeyBook } from "../../src/gateway/http/request.js";
import {
  createGateway,
  type Gateway,
  GatewayHttp,
  gatewayFastPath,
  mountGateway,
} from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { silentLogger } from "../../src/util/log.js";

const KEY = "sk-doors-0123456789abcdef";

/** Headers every door lets through (node:http and fetch trim trailing whitespace first). */
const ACCEPTED: string[] = [
  `Bearer ${KEY}`,
  `bearer ${KEY}`,
  `BEARER ${KEY}`,
  `Bearer   ${KEY}`,
  `Bearer\t${KEY}`,
  `Bearer ${KEY}  `,
];

/** Headers every door refuses; undefined is no Authorization header. */
const REFUSED: (string | undefined)[] = [
  undefined,
  "Bearer",
  `Bearer ${KEY.slice(0, -1)}X`, // same length, one byte off
  `Bearer ${"x".repeat(KEY.length)}`,
  `Bearer ${KEY.slice(0, -1)}`, // shorter: a prefix of the key
  `Bearer ${KEY}X`, // longer: the key and more
  `Bearer ${KEY} junk`, // a second token (the key book once took the first)
  `Bearer ${KEY} ${KEY}`,
  `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}`,
  KEY,
  `Token ${KEY}`,
];

const CHAT = JSON.stringify({
  model: "no-such-model",
  messages: [{ role: "user", content: "hi" }],
});

let db: Db;
let gateway: Gateway;
let keyed: Gateway;
let server: ApiServer;
/** Whether the fast path served each request it saw. */
const taken: boolean[] = [];

beforeAll(async () => {
  db = await openStore({ dataDir: "memory" });
  gateway = createGateway({ db, config: {}, log: silentLogger });
  keyed = createGateway({
    db,
    config: { gateway: { keys: { [KEY]: { project: "doors" } } } },
    log: silentLogger,
  });
  await Promise.all([gateway.start(), keyed.start()]);
  const gw = new GatewayHttp(gateway);
  const app = createApi({
    service: new RunService(db, []),
    apiKey: KEY,
    log: silentLogger,
    extraRoutes: (a) => mountGateway(a, gateway, gw),
  });
  const listener = gatewayFastPath(gw, { apiKey: KEY, bodyLimitBytes: 1024 * 1024 });
  server = await startApiServer(app, {
    port: 0,
    hostname: "127.0.0.1",
    graceMs: 100,
    fastPath: (req, res) => {
      const served = listener(req, res);
      taken.push(served);
      return served;
    },
  });
});

afterAll(async () => {
  await server?.close();
  await gateway?.close();
  await keyed?.close();
  await db?.close();
});

function post(
  path: string,
  authorization: string | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(CHAT),
  };
  if (authorization !== undefined) headers.authorization = authorization;
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method: "POST", headers, agent: false });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(CHAT);
  });
}

const show = (h: string | undefined) => JSON.stringify(h);

describe("the API's auth middleware (Hono)", () => {
  // /v1/messages/count_tokens is a gateway route the fast path never takes.
  it("lets the right key through and refuses every other header with 401", async () => {
    for (const h of ACCEPTED) {
      const r = await post("/v1/messages/count_tokens", h);
      expect(r.status, show(h)).toBe(404);
    }
    for (const h of REFUSED) {
      const r = await post("/v1/messages/count_tokens", h);
      expect(r.status, show(h)).toBe(401);
      expect(JSON.parse(r.body).error.code, show(h)).toBe("OUTLAST_UNAUTHORIZED");
      expect(r.headers["www-authenticate"], show(h)).toMatch(/^Bearer realm="outlast"/);
    }
  });
});

describe("the gateway's fast path", () => {
  it("serves the right key itself and leaves every other header to the middleware", async () => {
    for (const h of ACCEPTED) {
      taken.length = 0;
      const r = await post("/v1/chat/completions", h);
      expect(taken, show(h)).toEqual([true]);
      expect(r.status, show(h)).toBe(404);
      expect(JSON.parse(r.body).error.code, show(h)).toBe("OUTLAST_GATEWAY_UNKNOWN_MODEL");
    }
    for (const h of REFUSED) {
      taken.length = 0;
      const r = await post("/v1/chat/completions", h);
      expect(taken, show(h)).toEqual([false]);
      expect(r.status, show(h)).toBe(401);
      expect(JSON.parse(r.body).error.code, show(h)).toBe("OUTLAST_UNAUTHORIZED");
    }
  });
});

describe("the gateway's key book (config.gateway.keys)", () => {
  it("takes the same bearer keys over HTTP, and x-api-key when there is no bearer", async () => {
    const app = new Hono();
    mountGateway(app, keyed);
    const send = (headers: Record<string, string>) =>
      app.request("/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: CHAT,
      });
    for (const h of ACCEPTED) {
      const res = await send({ authorization: h });
      expect(res.status, show(h)).toBe(404);
    }
    expect((await send({ "x-api-key": KEY })).status).toBe(404);
    for (const h of REFUSED) {
      const res = await send(h === undefined ? {} : { authorization: h });
      expect(res.status, show(h)).toBe(401);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code, show(h)).toBe("OUTLAST_GATEWAY_UNAUTHORIZED");
    }
  });

  it("parses headers as they arrive, untrimmed", () => {
    const book = new KeyBook({ [KEY]: { project: "doors" } });
    const auth = (authorization: string | undefined) => () =>
      book.authenticate((name) => (name === "authorization" ? authorization : undefined), "openai");
    for (const h of [...ACCEPTED, `Bearer ${KEY} \t `])
      expect(auth(h)(), show(h)).toEqual({ project: "doors" });
    for (const h of [...REFUSED, `Bearer ${KEY} \t x`])
      expect(auth(h), show(h)).toThrow(/gateway key/);
  });
});
