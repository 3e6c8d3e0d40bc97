/**
 * How failures inside the service map to responses: transient database errors are a 503
 * with Retry-After, bugs a 500 with a generic message, readiness a 503. The service here is
 * a stub, because these faults cannot be provoked on demand through a real store.
 */
import { describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import type { RunService } from "../../src/engine/run-service.js";
import { RequestError } from "../../src/errors.js";
import { call, recordingLogger } from "./http.js";

const ID = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";

function stubService(get: () => Promise<never>): RunService {
  return { get, db: { query: async () => [] } } as unknown as RunService;
}

function dbError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("fault mapping", () => {
  it("answers a transient database error with 503 OUTLAST_UNAVAILABLE and Retry-After", async () => {
    for (const err of [
      dbError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
      dbError("terminating connection due to administrator command", "57P01"),
      new Error("Connection terminated unexpectedly"),
    ]) {
      const log = recordingLogger();
      const app = createApi({ service: stubService(() => Promise.reject(err)), log });
      const res = await call(app, "GET", `/v1/runs/${ID}`);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.body.error.code).toBe("OUTLAST_UNAVAILABLE");
      expect(log.entries.map((e) => e.level)).toEqual(["warn"]);
    }
  });

  it("answers a bug with 500 OUTLAST_INTERNAL, a generic message and a log line", async () => {
    const log = recordingLogger();
    const bug = new TypeError("cannot read properties of undefined (reading 'secret_column')");
    const app = createApi({ service: stubService(() => Promise.reject(bug)), log });
    const res = await call(app, "GET", `/v1/runs/${ID}`);
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe("OUTLAST_INTERNAL");
    expect(res.body.error.message).not.toContain("secret_column");
    const ref = /ref ([0-9a-f-]{36})/.exec(res.body.error.message)?.[1];
    expect(ref).toBeDefined();
    expect(log.entries).toEqual([
      expect.objectContaining({
        level: "error",
        msg: "request failed",
        fields: expect.objectContaining({ ref, error: bug.message }),
      }),
    ]);
  });

  it("answers a value Postgres refused (SQLSTATE class 22) with 400", async () => {
    const err = dbError('invalid input syntax for type uuid: "x"', "22P02");
    const app = createApi({
      service: stubService(() => Promise.reject(err)),
      log: recordingLogger(),
    });
    const res = await call(app, "GET", `/v1/runs/${ID}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("OUTLAST_UNSTORABLE_VALUE");
  });

  it("passes a RequestError's status, code, message and details through", async () => {
    const err = new RequestError(409, "OUTLAST_RUN_FINISHED", "already done", { status: "failed" });
    const app = createApi({ service: stubService(() => Promise.reject(err)) });
    const res = await call(app, "GET", `/v1/runs/${ID}`);
    expect(res).toMatchObject({
      status: 409,
      body: {
        error: {
          code: "OUTLAST_RUN_FINISHED",
          message: "already done",
          details: { status: "failed" },
        },
      },
    });
  });

  it("reports not ready (503) when the probe fails, throws or hangs", async () => {
    const service = stubService(() => Promise.reject(new Error("unused")));
    const probes = [
      async () => false,
      async () => {
        throw new Error("no database");
      },
      () => new Promise<boolean>(() => {}),
    ];
    for (const ready of probes) {
      const app = createApi({ service, ready });
      const res = await call(app, "GET", "/readyz");
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("OUTLAST_NOT_READY");
      expect((await call(app, "GET", "/healthz")).status).toBe(200);
    }
    const failingDb = {
      db: { query: () => Promise.reject(new Error("connect ECONNREFUSED")) },
    } as unknown as RunService;
    expect((await call(createApi({ service: failingDb }), "GET", "/readyz")).status).toBe(503);
  });

  it("honours a smaller body limit", async () => {
    const app = createApi({ service: stubService(() => Promise.reject()), bodyLimitBytes: 100 });
    const res = await call(app, "POST", "/v1/runs", { json: { agent: "a".repeat(200) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("OUTLAST_BODY_TOO_LARGE");
  });
});
