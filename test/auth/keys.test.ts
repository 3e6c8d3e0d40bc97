/**
 * API keys and roles, on both backends: keys made through /v1/keys are stored hashed, the
 * route table decides what each role may do (every route of the app, so a new one cannot
 * be missed), revocation and expiry are honoured, another project's key is a 404, config
 * keys are read-only, the bootstrap key rotates with an overlap, and every change is in
 * the audit log.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { ROUTE_ROLES } from "../../src/api/route-roles.js";
import { CredentialStore } from "../../src/auth/credentials.js";
import { createKey, syncConfigKeys } from "../../src/auth/keys.js";
import { sha256Hex } from "../../src/auth/tokens.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { createGateway, type Gateway, GatewayHttp, mountGateway } from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { type Role, roleAllows } from "../../src/types/index.js";
import { silentLogger } from "../../src/util/log.js";
import { call } from "../api/http.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { resetKeyTables } from "../helpers/keys.js";

const BOOT = "sk-bootstrap-0123456789abcdef";
const PREVIOUS = "sk-previous-0123456789abcdef";
const CONFIG_KEY = "gw-config-key-0123456789";
const RUN_ID = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";

/** A request path for a route of the table, its parameters filled in. */
function samplePath(path: string): string {
  return path.replace(":id", RUN_ID).replace(":name", "go").replace(":file", "x.js");
}

describe.each(BACKENDS)("keys and roles on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let store: CredentialStore;
  let gateway: Gateway;
  let app: OpenAPIHono;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
    gateway = createGateway({ db, config: {}, log: silentLogger });
    await gateway.start();
  });
  afterAll(async () => {
    await gateway.close();
    await close();
  });

  beforeEach(async () => {
    await resetKeyTables(db);
    await syncConfigKeys(db, { [CONFIG_KEY]: { project: "default", feature: "search" } });
    store = new CredentialStore({
      db,
      bootstrap: [BOOT, PREVIOUS],
      configKeys: { [CONFIG_KEY]: { project: "default", feature: "search" } },
      pollMs: 100,
    });
    await store.start();
    const service = new RunService(db, [defineAgent({ name: "noop", run: async () => null })]);
    const http = new GatewayHttp(gateway, store);
    app = createApi({
      service,
      credentials: store,
      log: silentLogger,
      extraRoutes: (a) => mountGateway(a, gateway, http),
    });
  });
  afterEach(async () => {
    await store.close();
  });

  async function makeKey(role: Role, project = "default", expiresAt?: Date): Promise<string> {
    const { token } = await createKey(db, {
      project,
      role,
      name: `${role} key`,
      expiresAt,
      actor: "cli",
    });
    await store.refresh();
    return token;
  }

  it("stores a SHA-256 of the secret, never the key; shows the key once", async () => {
    const res = await call(app, "POST", "/v1/keys", {
      json: { name: "ci", role: "read" },
      headers: auth(BOOT),
    });
    expect(res.status).toBe(201);
    const token: string = res.body.key;
    expect(token).toMatch(/^olk_[a-z0-9]{12}_[\w-]{43}$/);
    expect(res.body.prefix).toBe(token.slice(0, 16));
    const [row] = await db.query<Record<string, unknown>>(
      "SELECT * FROM outlast.api_keys WHERE id = $1",
      [res.body.id],
    );
    const secret = token.slice(17);
    expect(row?.secret_hash).toBe(sha256Hex(secret));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(token);
    const list = await call(app, "GET", "/v1/keys", { headers: auth(BOOT) });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(list.body.keys.map((k: { id: string }) => k.id)).toContain(res.body.id);
    // The new key works at once in this process (its own write, read back).
    await store.refresh();
    expect((await call(app, "GET", "/v1/runs", { headers: auth(token) })).status).toBe(200);
  });

  it("every route of the app asks the role the table gives it", async () => {
    const keys = {
      read: await makeKey("read"),
      submit: await makeKey("submit"),
      admin: await makeKey("admin"),
    };
    const routes = app.routes.filter((r) => r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(30);
    let refused = 0;
    for (const r of routes) {
      const need = ROUTE_ROLES[`${r.method} ${r.path}`];
      expect(need, `${r.method} ${r.path}`).toBeDefined();
      if (need === "public") continue;
      for (const role of ["read", "submit", "admin"] as const) {
        const res = await call(app, r.method, samplePath(r.path), {
          headers: auth(keys[role]),
          ...(r.method === "POST" ? { json: {} } : {}),
        });
        const what = `${role} key: ${r.method} ${r.path} → ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`;
        if (roleAllows(role, need as Role)) {
          expect(res.status, what).not.toBe(401);
          expect(res.status, what).not.toBe(403);
        } else {
          expect(res.status, what).toBe(403);
          expect(res.body.error.code, what).toBe("OUTLAST_FORBIDDEN");
          refused++;
        }
      }
    }
    // read is refused submit and admin routes, submit is refused admin routes.
    expect(refused).toBeGreaterThan(20);
    expect(await countRuns(db)).toBe(0);
  });

  it("a read key cannot submit; a submit key cannot make keys", async () => {
    const read = await makeKey("read");
    const submit = await makeKey("submit");
    const r1 = await call(app, "POST", "/v1/runs", {
      json: { agent: "noop" },
      headers: auth(read),
    });
    expect(r1.status).toBe(403);
    const r2 = await call(app, "POST", "/v1/runs", {
      json: { agent: "noop" },
      headers: auth(submit),
    });
    expect(r2.status).toBe(202);
    const r3 = await call(app, "POST", "/v1/keys", {
      json: { name: "x", role: "admin" },
      headers: auth(submit),
    });
    expect(r3.status).toBe(403);
    expect(r3.body.error.code).toBe("OUTLAST_FORBIDDEN");
    const r4 = await call(app, "POST", "/v1/chat/completions", {
      json: { model: "m", messages: [{ role: "user", content: "hi" }] },
      headers: auth(read),
    });
    expect(r4.status).toBe(403);
  });

  it("refuses a revoked key and an expired one", async () => {
    const key = await makeKey("read");
    const id = key.slice(4, 16);
    expect((await call(app, "GET", "/v1/runs", { headers: auth(key) })).status).toBe(200);
    const del = await call(app, "DELETE", `/v1/keys/${id}`, { headers: auth(BOOT) });
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).not.toBeNull();
    await store.refresh();
    const res = await call(app, "GET", "/v1/runs", { headers: auth(key) });
    expect(res.status).toBe(401);
    // Revoking twice answers the same key.
    expect((await call(app, "DELETE", `/v1/keys/${id}`, { headers: auth(BOOT) })).status).toBe(200);

    const soon = await makeKey("read", "default", new Date(Date.now() + 400));
    expect((await call(app, "GET", "/v1/runs", { headers: auth(soon) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call(app, "GET", "/v1/runs", { headers: auth(soon) })).status).toBe(401);
  });

  it("a wrong secret with a real id is refused, before and after the key was used", async () => {
    const key = await makeKey("read");
    const wrong = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
    expect((await call(app, "GET", "/v1/runs", { headers: auth(wrong) })).status).toBe(401);
    expect((await call(app, "GET", "/v1/runs", { headers: auth(key) })).status).toBe(200);
    expect((await call(app, "GET", "/v1/runs", { headers: auth(wrong) })).status).toBe(401);
    expect((await call(app, "GET", "/v1/runs", { headers: auth(`${key}x`) })).status).toBe(401);
  });

  it("keeps keys to their project: another project's key id is a 404", async () => {
    const other = await makeKey("admin", "team-b");
    const mine = await makeKey("read");
    const res = await call(app, "DELETE", `/v1/keys/${mine.slice(4, 16)}`, {
      headers: auth(other),
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("OUTLAST_KEY_NOT_FOUND");
    const list = await call(app, "GET", "/v1/keys", { headers: auth(other) });
    expect(list.body.keys.map((k: { project: string }) => k.project)).toEqual(["team-b"]);
    expect((await call(app, "GET", "/v1/runs", { headers: auth(mine) })).status).toBe(200);
  });

  it("lists config keys as read-only rows, and they work with their attribution", async () => {
    const list = await call(app, "GET", "/v1/keys", { headers: auth(BOOT) });
    const cfg = list.body.keys.find((k: { source: string }) => k.source === "config");
    expect(cfg).toMatchObject({ role: "submit", project: "default" });
    expect(JSON.stringify(list.body)).not.toContain(CONFIG_KEY);
    const del = await call(app, "DELETE", `/v1/keys/${cfg.id}`, { headers: auth(BOOT) });
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe("OUTLAST_KEY_READ_ONLY");
    expect(store.resolve(CONFIG_KEY)?.feature).toBe("search");
    const res = await call(app, "POST", "/v1/runs", {
      json: { agent: "noop" },
      headers: auth(CONFIG_KEY),
    });
    expect(res.status).toBe(202);
    expect(
      (
        await call(app, "POST", "/v1/keys", {
          json: { name: "x", role: "read" },
          headers: auth(CONFIG_KEY),
        })
      ).status,
    ).toBe(403);
  });

  it("accepts the bootstrap key and the previous one while they overlap", async () => {
    for (const k of [BOOT, PREVIOUS]) {
      expect((await call(app, "GET", "/v1/keys", { headers: auth(k) })).status).toBe(200);
    }
    const rotated = new CredentialStore({ bootstrap: ["sk-next-0123456789abcdef"] });
    expect(rotated.resolve(BOOT)).toBeUndefined();
    expect(rotated.resolve("sk-next-0123456789abcdef")?.principal.role).toBe("admin");
  });

  it("writes key and webhook changes to the audit log, read by admins of the project", async () => {
    const made = await call(app, "POST", "/v1/keys", {
      json: { name: "ops", role: "admin" },
      headers: auth(BOOT),
    });
    const ops: string = made.body.key;
    await store.refresh();
    await call(app, "DELETE", `/v1/keys/${made.body.id}`, { headers: auth(ops) });
    const other = await makeKey("admin", "team-b");
    const read = await makeKey("read");
    expect((await call(app, "GET", "/v1/audit", { headers: auth(read) })).status).toBe(403);
    const log = await call(app, "GET", "/v1/audit", { headers: auth(BOOT) });
    expect(log.status).toBe(200);
    const entries = log.body.entries.map((e: { action: string; actor: string; target: string }) => [
      e.action,
      e.actor,
      e.target,
    ]);
    expect(entries.slice(0, 2)).toEqual([
      ["key.create", "cli", read.slice(4, 16)],
      ["key.revoke", made.body.id, made.body.id],
    ]);
    expect(entries).toContainEqual(["key.create", "bootstrap", made.body.id]);
    const theirs = await call(app, "GET", "/v1/audit", { headers: auth(other) });
    expect(theirs.body.entries.map((e: { target: string }) => e.target)).toEqual([
      other.slice(4, 16),
    ]);
  });
});

async function countRuns(db: Db): Promise<number> {
  return Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM outlast.runs"))[0]?.n);
}

describe("a deployment without keys", () => {
  it("is open until the first key is made, and stays closed after it is revoked", async () => {
    const { db, close } = await openTestDb("pglite");
    await resetKeyTables(db);
    const store = new CredentialStore({ db, pollMs: 50 });
    await store.start();
    try {
      const app = createApi({
        service: new RunService(db, []),
        credentials: store,
        log: silentLogger,
      });
      expect((await call(app, "GET", "/v1/runs")).status).toBe(200);
      const made = await call(app, "POST", "/v1/keys", { json: { name: "first", role: "admin" } });
      expect(made.status).toBe(201);
      await store.refresh();
      expect((await call(app, "GET", "/v1/runs")).status).toBe(401);
      const key = made.body.key as string;
      expect(
        (
          await call(app, "DELETE", `/v1/keys/${made.body.id}`, {
            headers: { authorization: `Bearer ${key}` },
          })
        ).status,
      ).toBe(200);
      await store.refresh();
      expect((await call(app, "GET", "/v1/runs")).status).toBe(401);
      const [entry] = await db.query<{ actor: string }>(
        "SELECT actor FROM outlast.audit_log WHERE action = 'key.create'",
      );
      expect(entry?.actor).toBe("open");
    } finally {
      await store.close();
      await resetKeyTables(db);
      await close();
    }
  });
});
