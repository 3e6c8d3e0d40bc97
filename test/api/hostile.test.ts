/**
 * Malformed and hostile requests to every endpoint. Each must get a 4xx whose error code
 * is in the documented table, never a 5xx, and none may leave a run behind.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApi } from "../../src/api/app.js";
import { API_ERROR_CODES } from "../../src/api/error-codes.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { call, recordingLogger } from "./http.js";

interface Case {
  name: string;
  method: string;
  path: string;
  json?: unknown;
  body?: RequestInit["body"];
  headers?: Record<string, string>;
  /** The status expected, when one is certain; otherwise any 4xx. */
  status?: number;
  code?: string;
}

const MISSING = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";
const J = { "content-type": "application/json" };
const valid = { agent: "echo", input: { n: 1 } };
const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
const MIB = 1024 * 1024;

/** Ids that are not runs: malformed, SQL-ish, missing. `FINISHED` is replaced by a real finished run. */
const BAD_IDS: [string, number | undefined][] = [
  ["not-a-uuid", 400],
  ["' OR 1=1 --", 400],
  ["1; DROP TABLE outlast.runs; --", 400],
  ["00000000-0000-0000-0000-000000000000'::uuid OR true --", 400],
  ["\u0000", 400],
  ["x".repeat(5000), 400],
  ["0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f0", 400],
  ["0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01a", 400],
  ["{{id}}", 400],
  ["-1", 400],
  [MISSING, 404],
  [MISSING.toUpperCase(), 404],
];

function cases(): Case[] {
  const out: Case[] = [];
  const post = (name: string, c: Omit<Case, "name" | "method" | "path"> & { path?: string }) =>
    out.push({ method: "POST", path: "/v1/runs", ...c, name: `POST /v1/runs ${name}` });

  // ---- broken JSON and bodies that are not JSON objects
  for (const body of [
    "{",
    "{'agent': 'echo'}",
    '{"agent": "echo",}',
    '{"agent": echo}',
    "undefined",
    "NaN",
    '{"agent": "echo"}{"agent": "echo"}',
    "\u0000",
  ]) {
    post(`broken JSON ${JSON.stringify(body)}`, {
      body,
      headers: J,
      status: 400,
      code: "OUTLAST_INVALID_JSON",
    });
  }
  post("binary body", {
    body: new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x80]),
    headers: J,
    status: 400,
    code: "OUTLAST_INVALID_JSON",
  });
  for (const body of ["[]", "null", "42", '"echo"', "true", '[{"agent":"echo"}]']) {
    post(`JSON ${body}`, { body, headers: J, status: 400, code: "OUTLAST_INVALID_REQUEST" });
  }
  // The UTF-8 decoder drops a byte-order mark, so this is `{}`: valid JSON, missing "agent".
  post("byte-order mark", {
    body: "\uFEFF{}",
    headers: J,
    status: 400,
    code: "OUTLAST_INVALID_REQUEST",
  });
  post("empty body", { body: "", headers: J, status: 400 });
  post("no body at all", { headers: J, status: 400 });

  // ---- content types
  for (const ct of [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonx",
    "application/json-seq",
    "json",
    "*/*",
  ]) {
    post(`as ${ct}`, { body: JSON.stringify(valid), headers: { "content-type": ct }, status: 415 });
  }
  post("without a content type", {
    body: new Blob([JSON.stringify(valid)]),
    status: 415,
    code: "OUTLAST_UNSUPPORTED_MEDIA_TYPE",
  });

  // ---- wrong types and out-of-range values
  const wrong: [string, unknown][] = [
    ["agent missing", { input: { n: 1 } }],
    ["agent number", { agent: 1 }],
    ["agent null", { agent: null }],
    ["agent empty", { agent: "" }],
    ["agent array", { agent: ["echo"] }],
    ["agent 1000 chars", { agent: "a".repeat(1000) }],
    ["priority string", { ...valid, priority: "high" }],
    ["priority float", { ...valid, priority: 1.5 }],
    ["priority 1001", { ...valid, priority: 1001 }],
    ["priority -1001", { ...valid, priority: -1001 }],
    ["priority huge", { ...valid, priority: Number.MAX_SAFE_INTEGER * 4 }],
    ["priority null", { ...valid, priority: null }],
    ["queue number", { ...valid, queue: 5 }],
    ["queue empty", { ...valid, queue: "" }],
    ["queue 1000 chars", { ...valid, queue: "q".repeat(1000) }],
    ["thread_id object", { ...valid, thread_id: {} }],
    ["thread_id 1000 chars", { ...valid, thread_id: "t".repeat(1000) }],
    ["idempotency_key 256 chars", { ...valid, idempotency_key: "k".repeat(256) }],
    ["idempotency_key number", { ...valid, idempotency_key: 7 }],
    ["tags array", { ...valid, tags: ["a"] }],
    ["tags number value", { ...valid, tags: { a: 1 } }],
    ["tags nested", { ...valid, tags: { a: { b: "c" } } }],
    [
      "tags 100 entries",
      { ...valid, tags: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v"])) },
    ],
    ["tags long key", { ...valid, tags: { ["k".repeat(100)]: "v" } }],
    ["tags long value", { ...valid, tags: { k: "v".repeat(1000) } }],
    ["run_at word", { ...valid, run_at: "tomorrow" }],
    ["run_at number", { ...valid, run_at: 1_700_000_000_000 }],
    ["run_at 30 Feb", { ...valid, run_at: "2030-02-30T00:00:00Z" }],
    ["run_at month 13", { ...valid, run_at: "2030-13-01T00:00:00Z" }],
    ["run_at year 0", { ...valid, run_at: "0000-01-01T00:00:00Z" }],
    ["run_at no zone", { ...valid, run_at: "2030-01-01T00:00:00" }],
    ["unknown field", { ...valid, extra: true }],
    ["misspelt field", { ...valid, idempotencyKey: "k" }],
    ["input against the agent's schema", { agent: "echo", input: { n: "one" } }],
    ["input missing for a schema agent", { agent: "echo" }],
  ];
  for (const [name, json] of wrong) post(name, { json, status: 400 });
  post("priority Infinity (1e400)", {
    body: '{"agent":"echo","input":{"n":1},"priority":1e400}',
    headers: J,
    status: 400,
  });
  post("unknown agent", {
    json: { agent: "nope", input: {} },
    status: 404,
    code: "OUTLAST_UNKNOWN_AGENT",
  });
  post("agent SQL-ish", { json: { agent: "echo'; DROP TABLE outlast.runs; --" }, status: 404 });
  post("unknown queue", {
    json: { ...valid, queue: "elsewhere" },
    status: 400,
    code: "OUTLAST_UNKNOWN_QUEUE",
  });

  // ---- prototype pollution, depth, strings Postgres cannot hold
  for (const [name, body] of [
    ["__proto__ at the top", '{"agent":"echo","input":{"n":1},"__proto__":{"polluted":true}}'],
    ["__proto__ in tags", '{"agent":"echo","input":{"n":1},"tags":{"__proto__":"x"}}'],
    ["__proto__ object in tags", '{"agent":"echo","input":{"n":1},"tags":{"__proto__":{"a":"b"}}}'],
    ["__proto__ in input", '{"agent":"echo","input":{"n":1,"__proto__":{"polluted":true}}}'],
    [
      "__proto__ deep in input",
      '{"agent":"echo","input":{"n":1,"a":[{"b":{"__proto__":{"x":1}}}]}}',
    ],
    [
      "constructor.prototype in input",
      '{"agent":"echo","input":{"n":1,"constructor":{"prototype":{"x":1}}}}',
    ],
  ] as const) {
    post(name, { body, headers: J, status: 400, code: "OUTLAST_FORBIDDEN_KEY" });
  }
  post("input nested 65 deep", {
    json: { agent: "echo", input: nest(65) },
    status: 400,
    code: "OUTLAST_BODY_TOO_DEEP",
  });
  post("input nested 100k deep", {
    body: `{"agent":"echo","input":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
    headers: J,
    status: 400,
    code: "OUTLAST_BODY_TOO_DEEP",
  });
  post("input nested 300k deep (arrays)", {
    body: `${"[".repeat(300_000)}${"]".repeat(300_000)}`,
    headers: J,
    status: 400,
  });
  for (const [name, json] of [
    ["NUL in input", { agent: "echo", input: { n: 1, s: "a\u0000b" } }],
    ["NUL in an input key", { agent: "echo", input: { n: 1, "a\u0000": 1 } }],
    ["NUL in a tag", { ...valid, tags: { k: "v\u0000" } }],
    ["NUL in agent", { agent: "echo\u0000" }],
    ["NUL in thread_id", { ...valid, thread_id: "t\u0000" }],
    ["NUL in idempotency_key", { ...valid, idempotency_key: "\u0000" }],
    ["lone surrogate in input", { agent: "echo", input: { n: 1, s: "\ud800" } }],
    ["lone low surrogate in a tag", { ...valid, tags: { k: "\udc00x" } }],
  ] as const) {
    post(name, { json, status: 400 });
  }

  // ---- huge bodies (2 MiB)
  post("2 MiB JSON", {
    json: { agent: "echo", input: { n: 1, s: "x".repeat(2 * MIB) } },
    status: 413,
    code: "OUTLAST_BODY_TOO_LARGE",
  });
  post("2 MiB text/plain", {
    body: "x".repeat(2 * MIB),
    headers: { "content-type": "text/plain" },
    status: 413,
  });
  post("2 MiB of tags", {
    json: {
      ...valid,
      tags: Object.fromEntries(
        Array.from({ length: 40_000 }, (_, i) => [`key-${i}`, "v".repeat(40)]),
      ),
    },
    status: 413,
  });
  out.push({
    name: "POST cancel with a 2 MiB body",
    method: "POST",
    path: `/v1/runs/${MISSING}/cancel`,
    body: "x".repeat(2 * MIB),
    headers: J,
    status: 413,
  });
  out.push({
    name: "POST unknown route with a 2 MiB body",
    method: "POST",
    path: "/v1/nothing",
    body: "x".repeat(2 * MIB),
    headers: J,
  });

  // ---- ?wait=: bad values; the body is valid, so only the query can stop the run
  for (const wait of [
    "0",
    "-1",
    "-0.5",
    "61",
    "60.001",
    "1e9",
    "NaN",
    "Infinity",
    "-Infinity",
    "abc",
    "",
    "1&wait=2",
    "%00",
    "true",
    "[1]",
  ]) {
    post(`?wait=${wait}`, {
      path: `/v1/runs?wait=${wait}`,
      json: valid,
      status: 400,
      code: "OUTLAST_INVALID_REQUEST",
    });
  }
  post("unknown query parameter", { path: "/v1/runs?debug=1", json: valid, status: 400 });
  post("__proto__ query parameter", { path: "/v1/runs?__proto__=1", json: valid, status: 400 });
  post("constructor query parameter", {
    path: "/v1/runs?constructor=1&wait=1",
    json: valid,
    status: 400,
  });

  // ---- ids on every run route
  for (const [id, status] of BAD_IDS) {
    const p = `/v1/runs/${encodeURIComponent(id)}`;
    const label = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
    out.push({ name: `GET run ${label}`, method: "GET", path: p, status });
    out.push({ name: `GET steps ${label}`, method: "GET", path: `${p}/steps`, status });
    out.push({ name: `POST cancel ${label}`, method: "POST", path: `${p}/cancel`, status });
  }
  out.push({
    name: "POST cancel a finished run",
    method: "POST",
    path: "/v1/runs/FINISHED/cancel",
    status: 409,
    code: "OUTLAST_RUN_FINISHED",
  });
  for (const suffix of ["", "/steps", "/cancel"]) {
    const method = suffix === "/cancel" ? "POST" : "GET";
    out.push({
      name: `${method} run${suffix} with an unknown query parameter`,
      method,
      path: `/v1/runs/FINISHED${suffix}?x=1`,
      status: 400,
    });
  }

  // ---- list filters
  for (const q of [
    "limit=0",
    "limit=-1",
    "limit=201",
    "limit=1e9",
    "limit=NaN",
    "limit=abc",
    "limit=1.5",
    "limit=",
    "limit=1&limit=2",
    "limit=Infinity",
    "status=bogus",
    "status=QUEUED",
    "status=queued&status=failed",
    "cursor=not-a-cursor",
    `cursor=${encodeURIComponent("' OR 1=1 --")}`,
    `cursor=${"c".repeat(100)}`,
    `agent=${"a".repeat(1000)}`,
    "agent=%00",
    "thread_id=%00",
    "agent=",
    "unknown=1",
    "__proto__=x",
    "sort=id",
  ]) {
    out.push({
      name: `GET /v1/runs?${q.slice(0, 60)}`,
      method: "GET",
      path: `/v1/runs?${q}`,
      status: 400,
    });
  }

  // ---- methods and routes
  for (const [method, path] of [
    ["PUT", "/v1/runs"],
    ["DELETE", "/v1/runs"],
    ["PATCH", "/v1/runs/FINISHED"],
    ["DELETE", "/v1/runs/FINISHED"],
    ["POST", "/v1/runs/FINISHED"],
    ["GET", "/v1/runs/FINISHED/cancel"],
    ["POST", "/v1/runs/FINISHED/steps"],
    ["POST", "/healthz"],
    ["DELETE", "/openapi.json"],
    ["OPTIONS", "/v1/runs"],
  ]) {
    out.push({
      name: `${method} ${path}`,
      method: method!,
      path: path!,
      status: 405,
      code: "OUTLAST_METHOD_NOT_ALLOWED",
    });
  }
  for (const path of [
    "/",
    "/v2/runs",
    "/v1",
    "/v1/runs/",
    "/v1/runs/a/b/c",
    "/%00",
    "/v1/runs/FINISHED/steps/1",
    "/docs/assets/nope.js",
    "/docs/assets/..%2F..%2Fpackage.json",
    "/docs/assets/%2e%2e%2fpackage.json",
    "/docs/assets/constructor",
    "/docs/assets/__proto__",
    "/.env",
  ]) {
    out.push({ name: `GET ${path}`, method: "GET", path, status: 404, code: "OUTLAST_NOT_FOUND" });
  }
  out.push({ name: "PROPFIND /v1/runs", method: "PROPFIND", path: "/v1/runs" });
  return out;
}

describe.each(BACKENDS)("hostile requests on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let app: OpenAPIHono;
  let finished: string;
  let before: number;
  const log = recordingLogger();

  const countRuns = async (): Promise<number> =>
    Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM outlast.runs"))[0]?.n);

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
    const echo = defineAgent({
      name: "echo",
      input: z.object({ n: z.number() }),
      run: async (_ctx, input) => input,
    });
    service = new RunService(db, [echo], ["default"]);
    await service.start();
    app = createApi({ service, log });
    // A finished run to aim at; and one queued run so that "nothing was stored" is not "the table is empty".
    const { run } = await service.submit({ agent: "echo", input: { n: 1 } });
    await service.cancel(run.id);
    finished = run.id;
    await service.submit({ agent: "echo", input: { n: 2 } });
    before = await countRuns();
  });

  afterAll(async () => {
    await service.stop();
    await close();
  });

  it.each(cases())("$name", async (c) => {
    const path = c.path.replace("FINISHED", finished);
    const res = await call(app, c.method, path, {
      ...(c.json === undefined ? {} : { json: c.json }),
      ...(c.body === undefined ? {} : { body: c.body }),
      ...(c.headers ? { headers: c.headers } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    if (c.status !== undefined) expect(res.status, JSON.stringify(res.body)).toBe(c.status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Object.keys(res.body)).toEqual(["error"]);
    expect(res.body.error.code).toMatch(/^OUTLAST_/);
    expect(API_ERROR_CODES).toHaveProperty(res.body.error.code);
    if (c.code !== undefined) expect(res.body.error.code).toBe(c.code);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.body.error.message.length).toBeGreaterThan(0);
    expect(res.body.error.message.length).toBeLessThan(2_000);
  });

  it("stored no run and polluted no prototype", async () => {
    expect(await countRuns()).toBe(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("caught everything before the database (nothing logged, not even a refused value)", () => {
    expect(log.entries).toEqual([]);
  });

  it("still answers health probes with junk attached", async () => {
    for (const path of ["/healthz?x=1", "/readyz?__proto__=1", "/healthz?wait=-1"]) {
      const res = await call(app, "GET", path);
      expect(res.status, path).toBe(200);
    }
  });
});
