import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { call } from "./http.js";

const KEY = "sk-outlast-test-0123456789";

describe.each(BACKENDS)("API key on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let app: OpenAPIHono;

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, [defineAgent({ name: "noop", run: async () => null })]);
    app = createApi({ service, apiKey: KEY });
  });

  afterEach(async () => {
    await close();
  });

  const countRuns = async (): Promise<number> =>
    Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM outlast.runs"))[0]?.n);

  it("refuses every protected route without the key (401, WWW-Authenticate: Bearer)", async () => {
    const routes: [string, string][] = [
      ["POST", "/v1/runs"],
      ["GET", "/v1/runs"],
      ["GET", "/v1/runs/0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01"],
      ["GET", "/v1/runs/0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01/steps"],
      ["POST", "/v1/runs/0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01/cancel"],
      ["GET", "/no/such/route"],
    ];
    const badHeaders: (Record<string, string> | undefined)[] = [
      undefined,
      { authorization: "" },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: `Bearer ${KEY}x` },
      { authorization: `Bearer ${KEY.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`user:${KEY}`).toString("base64")}` },
      { authorization: KEY },
      { authorization: `Bearer ${KEY} ${KEY}` },
      { "x-api-key": KEY },
    ];
    for (const [method, path] of routes) {
      for (const headers of badHeaders) {
        const res = await call(app, method, path, {
          ...(method === "POST" ? { json: { agent: "noop" } } : {}),
          ...(headers ? { headers } : {}),
        });
        const what = `${method} ${path} ${JSON.stringify(headers)}`;
        expect(res.status, what).toBe(401);
        expect(res.body.error.code, what).toBe("OUTLAST_UNAUTHORIZED");
        expect(res.headers.get("www-authenticate"), what).toMatch(/^Bearer/);
      }
    }
    expect(await countRuns()).toBe(0);
  });

  it("accepts the right key, case-insensitive scheme", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const res = await call(app, "POST", "/v1/runs", {
        json: { agent: "noop" },
        headers: { authorization: `${scheme} ${KEY}` },
      });
      expect(res.status).toBe(202);
    }
    const list = await call(app, "GET", "/v1/runs", {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(list.status).toBe(200);
    expect(list.body.runs).toHaveLength(3);
    const doc = await call(app, "GET", "/openapi.json", {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(doc.status).toBe(200);
  });

  it("leaves health checks and the API docs open", async () => {
    expect((await call(app, "GET", "/healthz")).status).toBe(200);
    expect((await call(app, "GET", "/readyz")).status).toBe(200);
    expect((await call(app, "GET", "/openapi.json")).status).toBe(200);
    expect((await call(app, "GET", "/docs")).status).toBe(200);
    expect(
      (await call(app, "GET", "/healthz", { headers: { authorization: "Bearer wrong" } })).status,
    ).toBe(200);
  });

  it("checks the key before reading a body", async () => {
    const res = await call(app, "POST", "/v1/runs", {
      body: "x".repeat(2 * 1024 * 1024),
      headers: { "content-type": "text/plain" },
    });
    expect(res.status).toBe(401);
  });
});

describe("createApi options", () => {
  it("refuses an empty API key rather than silently disabling auth", () => {
    const service = {} as RunService;
    expect(() => createApi({ service, apiKey: "" })).toThrow(/apiKey/);
    expect(() => createApi({ service, bodyLimitBytes: 0 })).toThrow(/bodyLimitBytes/);
  });
});
