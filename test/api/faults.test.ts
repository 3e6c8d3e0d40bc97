/**
 * How failures inside the service map to responses: transient database errors are a 503
 * with Retry-After, bugs a 500 with a generic message, readiness a 503. Database errors
 * come from a real PostgreSQL (a pool on a closed port, backends terminated by
 * pg_terminate_backend, a value it refuses); a bug and a probe that hangs cannot be
 * provoked through a real store, so there the service is a stub.
 */
import { createServer } from "node:net";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import type { RunService } from "../../src/engine/run-service.js";
import { RunService as RealRunService } from "../../src/engine/run-service.js";
import { RequestError } from "../../src/errors.js";
import { PostgresDb } from "../../src/store/postgres.js";
import { openTestDb, PG_ADMIN_URL } from "../helpers/db.js";
import { call, recordingLogger } from "./http.js";

const ID = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";

function stubService(get: () => Promise<never>): RunService {
  return { get, db: { query: async () => [] } } as unknown as RunService;
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** The error PostgreSQL itself raises for a statement. */
async function errorFrom(sql: string): Promise<Error> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } catch (err) {
    return err as Error;
  } finally {
    await client.end();
  }
  throw new Error(`${sql} did not fail`);
}

describe("fault mapping", () => {
  it("answers a database that refuses connections, or drops them mid-query, with 503 OUTLAST_UNAVAILABLE and Retry-After", async () => {
    // Nothing listens on the pool's port.
    const refused = new PostgresDb({
      connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`,
    });
    // Every query of this one waits on a lock until the server terminates its backend
    // (57P01), and again on each retry, until the service gives up.
    const { db, url, close } = await openTestDb("postgres");
    const database = new URL(url!).pathname.slice(1);
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query("LOCK TABLE outlast.runs IN ACCESS EXCLUSIVE MODE");
    const lockerPid = (await locker.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    let killing = true;
    let killed = 0;
    const killer = (async () => {
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      while (killing) {
        const rows = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
           WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> $2`,
          [database, lockerPid],
        );
        killed += rows.rows.filter((r) => r.ok).length;
        await new Promise((r) => setTimeout(r, 20));
      }
      await admin.end();
    })();
    try {
      const cases = [
        { db: refused, error: /ECONNREFUSED/ },
        { db, error: /terminating connection due to administrator command/ },
      ];
      await Promise.all(
        cases.map(async (c) => {
          const log = recordingLogger();
          const app = createApi({ service: new RealRunService(c.db, []), log });
          const res = await call(app, "GET", `/v1/runs/${ID}`);
          expect(res.status).toBe(503);
          expect(res.headers.get("retry-after")).toBe("1");
          expect(res.body.error.code).toBe("OUTLAST_UNAVAILABLE");
          expect(log.entries).toEqual([
            expect.objectContaining({
              level: "warn",
              fields: expect.objectContaining({ error: expect.stringMatching(c.error) }),
            }),
          ]);
        }),
      );
      expect(killed).toBeGreaterThan(1);
    } finally {
      killing = false;
      await killer;
      await locker.end();
      await refused.close();
      await close();
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
    const err = await errorFrom("SELECT 'x'::uuid");
    expect((err as { code?: string }).code).toBe("22P02");
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
    // The default probe on a database nothing answers for.
    const refused = new PostgresDb({
      connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/postgres`,
    });
    try {
      const app = createApi({ service: new RealRunService(refused, []) });
      const res = await call(app, "GET", "/readyz");
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("OUTLAST_NOT_READY");
    } finally {
      await refused.close();
    }
  });

  it("honours a smaller body limit", async () => {
    const app = createApi({ service: stubService(() => Promise.reject()), bodyLimitBytes: 100 });
    const res = await call(app, "POST", "/v1/runs", { json: { agent: "a".repeat(200) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("OUTLAST_BODY_TOO_LARGE");
  });
});
