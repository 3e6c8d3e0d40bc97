/**
 * One error model: a refusal is a RequestError naming a code (src/errors.ts), the code's
 * HTTP status lives in one table at the edge (src/api/error-codes.ts), and one renderer
 * looks it up. The type checker refuses a code missing from the table (the
 * `@ts-expect-error` below turns into an error of its own if it ever stops doing so);
 * these tests check that the throw sites name no status and that every row renders.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { API_ERROR_CODES } from "../../src/api/error-codes.js";
import type { RunService } from "../../src/engine/run-service.js";
import { RequestError, type RequestErrorCode } from "../../src/errors.js";
import { call, recordingLogger } from "./http.js";

const ID = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** A service whose `get` throws `err`: GET /v1/runs/{id} renders it. */
function throwing(err: unknown): RunService {
  return { get: () => Promise.reject(err), db: { query: async () => [] } } as unknown as RunService;
}

describe("the error model", () => {
  it("has every RequestError in src name a code from the table, and no status", () => {
    const sites: string[] = [];
    for (const file of sources("src")) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/new RequestError\(\s*([^,]+),/g)) {
        sites.push(`${file}: ${m[1]}`);
      }
    }
    // src/api (middleware, routes, schemas), RunService, the quota route, readiness.
    expect(sites.length).toBeGreaterThan(30);
    const bad = sites.filter((s) => {
      const code = /: "(OUTLAST_[A-Z_]+)"$/.exec(s)?.[1];
      return code === undefined || !Object.hasOwn(API_ERROR_CODES, code);
    });
    expect(bad).toEqual([]);
  });

  it("refuses, at compile time, a code that has no row in the table", () => {
    // @ts-expect-error "OUTLAST_NOT_IN_THE_TABLE" is not a RequestErrorCode.
    const err = new RequestError("OUTLAST_NOT_IN_THE_TABLE", "no row");
    expect(err.code).toBe("OUTLAST_NOT_IN_THE_TABLE");
  });

  it("answers every code with its table status, message, details and headers", async () => {
    for (const [code, { status }] of Object.entries(API_ERROR_CODES)) {
      const err = new RequestError(code as RequestErrorCode, `message of ${code}`, {
        details: { code },
        headers: { "X-Outlast-Test": code },
      });
      const app = createApi({ service: throwing(err), log: recordingLogger() });
      const res = await call(app, "GET", `/v1/runs/${ID}`);
      expect(res.status, code).toBe(status);
      expect(res.body, code).toEqual({
        error: { code, message: `message of ${code}`, details: { code } },
      });
      expect(res.headers.get("x-outlast-test"), code).toBe(code);
    }
  });

  it("answers a code that escaped the type checker as the bug it is: 500, logged", async () => {
    const log = recordingLogger();
    const err = new RequestError("OUTLAST_NO_SUCH_CODE" as RequestErrorCode, "oops");
    const app = createApi({ service: throwing(err), log });
    const res = await call(app, "GET", `/v1/runs/${ID}`);
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe("OUTLAST_INTERNAL");
    expect(log.entries).toMatchObject([
      { level: "error", msg: "request failed", fields: { code: "OUTLAST_NO_SUCH_CODE" } },
    ]);
  });
});
