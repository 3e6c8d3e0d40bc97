/**
 * The three doors — the API's middleware, the gateway's fast path, the gateway's Hono
 * routes — accept the same stored keys (one CredentialStore), over a real socket: a submit
 * key's model call is served by the fast path; a read key's is left to Hono, which answers
 * 403; a revoked key is left to Hono, which answers 401. The model asked for does not
 * exist, so an accepted call ends in the gateway's 404 without a provider. Also: createApi
 * refuses a route missing from the role table.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { CredentialStore } from "../../src/auth/credentials.js";
import { createKey, revokeKey } from "../../src/auth/keys.js";
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
import { silentLogger } from "../../src/util/log.js";

const BOOT = "sk-doors-bootstrap-0123456789";
const CHAT = JSON.stringify({
  model: "no-such-model",
  messages: [{ role: "user", content: "hi" }],
});

let db: Db;
let gateway: Gateway;
let store: CredentialStore;
let server: ApiServer;
const taken: boolean[] = [];

beforeAll(async () => {
  db = await openStore({ dataDir: "memory" });
  gateway = createGateway({ db, config: {}, log: silentLogger });
  await gateway.start();
  store = new CredentialStore({ db, bootstrap: [BOOT], pollMs: 100 });
  await store.start();
  const gw = new GatewayHttp(gateway, store);
  const app = createApi({
    service: new RunService(db, []),
    credentials: store,
    log: silentLogger,
    extraRoutes: (a) => mountGateway(a, gateway, gw),
  });
  const listener = gatewayFastPath(gw, { bodyLimitBytes: 1024 * 1024 });
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
  await store?.close();
  await gateway?.close();
  await db?.close();
});

function post(path: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, {
      method: "POST",
      agent: false,
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(CHAT),
        authorization: `Bearer ${key}`,
      },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(CHAT);
  });
}

describe("stored keys at every door", () => {
  it("serves a submit key on the fast path, leaves a read key and a revoked key to Hono", async () => {
    const submit = await createKey(db, {
      project: "default",
      role: "submit",
      name: "s",
      actor: "cli",
    });
    const read = await createKey(db, { project: "default", role: "read", name: "r", actor: "cli" });
    await store.refresh();

    taken.length = 0;
    const ok = await post("/v1/chat/completions", submit.token);
    expect(taken).toEqual([true]);
    expect(ok.status).toBe(404);
    expect(JSON.parse(ok.body).error.code).toBe("OUTLAST_GATEWAY_UNKNOWN_MODEL");
    // The Hono routes (count_tokens is never on the fast path) take it too.
    expect((await post("/v1/messages/count_tokens", submit.token)).status).toBe(404);

    taken.length = 0;
    const weak = await post("/v1/chat/completions", read.token);
    expect(taken).toEqual([false]);
    expect(weak.status).toBe(403);
    expect(JSON.parse(weak.body).error.code).toBe("OUTLAST_FORBIDDEN");

    await revokeKey(db, "default", submit.row.id, "cli");
    await store.refresh();
    taken.length = 0;
    const gone = await post("/v1/chat/completions", submit.token);
    expect(taken).toEqual([false]);
    expect(gone.status).toBe(401);
    expect((await post("/v1/messages/count_tokens", submit.token)).status).toBe(401);
  });
});

describe("the route table", () => {
  it("createApi refuses to start with a route that has no role", () => {
    const make = () =>
      createApi({
        service: new RunService(db, []),
        log: silentLogger,
        extraRoutes: (a) => {
          a.get("/v1/unguarded", (c) => c.text("oops"));
        },
      });
    expect(make).toThrow(/GET \/v1\/unguarded/);
  });
});
