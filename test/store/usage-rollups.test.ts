/**
 * Usage rollups (migration 012) answer `/v1/usage` exactly as raw rows do: every grouping,
 * ranges on and off minute, hour and day boundaries, rows written by several INSERTs into
 * the same rollup rows (the recorder's batches) and by a bulk insert.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { usageSpans } from "../../src/gateway/accounting/usage-spans.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { GATEWAY_INSERT_CALLS, type UsageGroup } from "../../src/store/sql/gateway.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";

const T0 = Date.parse("2026-03-01T00:00:00Z");
const OUTCOMES = ["ok", "ok", "ok", "cache_hit", "rate_limited", "upstream_error"];

/** Deterministic calls over 3 days: several per minute share a rollup key. */
function calls(n: number, seed: number) {
  return Array.from({ length: n }, (_, i) => {
    const k = i * 7919 + seed;
    return {
      at: new Date(T0 + ((k * 104_729) % (3 * 86_400_000))).toISOString(),
      project: k % 5 === 0 ? "other" : "default",
      agent: k % 3 === 0 ? null : `agent-${k % 2}`,
      run_id: `run-${k % 40}`,
      step: `step-${k % 4}`,
      feature: k % 4 === 0 ? null : `f${k % 3}`,
      tenant: k % 6 === 0 ? null : `t${k % 5}`,
      requested: k % 2 ? "fast" : "smart",
      provider: "sim",
      model: k % 2 ? "sim-fast" : "sim-smart",
      outcome: OUTCOMES[k % OUTCOMES.length],
      status: 200,
      input_tokens: k % 300,
      output_tokens: k % 70,
      cached_tokens: k % 11,
      cost_usd: (k % 997) / 1e5,
      latency_ms: k % 900,
      upstream_ms: null,
      attempts: 1,
      stream: false,
      error_code: null,
    };
  });
}

describe.each(BACKENDS)("usage rollups on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let gateway: Gateway;

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
    await db.exec("TRUNCATE outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals");
    gateway = createGateway({ db, config: {} });
    // The recorder's way: batches of up to 500 rows, the same minutes in several batches.
    const rows = calls(3_000, 1);
    for (let i = 0; i < rows.length; i += 500) {
      await db.query(GATEWAY_INSERT_CALLS, [JSON.stringify(rows.slice(i, i + 500))]);
    }
    // A bulk insert of its own, 2,000 calls in the first hour: many per rollup row.
    await db.query(
      `INSERT INTO outlast.gateway_calls (at, project, requested, provider, model, outcome,
         status, input_tokens, output_tokens, latency_ms, tenant)
       SELECT $1::timestamptz + (i * 977) % 3600 * interval '1 second', 'default', 'fast',
         'sim', 'sim-fast', 'ok', 200, i % 50, i % 9, i % 300, 't' || (i % 3)
       FROM generate_series(1, 2000) AS i`,
      [new Date(T0).toISOString()],
    );
  });
  afterAll(() => close());

  const ranges: [string, string][] = [
    ["2026-02-27T00:00:00Z", "2026-03-05T00:00:00Z"], // all, aligned on days
    ["2026-03-01T05:17:23.250Z", "2026-03-03T19:02:41.900Z"], // nothing aligned
    ["2026-03-01T10:00:00Z", "2026-03-01T13:45:00Z"], // hours and minutes
    ["2026-03-02T08:30:10Z", "2026-03-02T08:30:50Z"], // inside one minute
    ["2026-03-02T08:30:50Z", "2026-03-02T08:31:20Z"], // across one minute boundary
  ];
  const groupings: UsageGroup[][] = [
    [],
    ["model"],
    ["project", "agent", "feature", "tenant"],
    ["requested", "provider", "outcome"],
    ["day"],
    ["hour", "tenant"],
    // Answered from the per-project totals (migration 014):
    ["hour"],
    ["project", "outcome", "day"],
    ["outcome", "hour"],
  ];

  test("every grouping over every range: rollups and raw rows agree", async () => {
    for (const [from, to] of ranges) {
      for (const groupBy of groupings) {
        const q = { groupBy, from: new Date(from), to: new Date(to) };
        const raw = await gateway.usage({ ...q, source: "raw" });
        const rolled = await gateway.usage(q);
        expect(rolled, `${from}..${to} by ${groupBy.join(",") || "nothing"}`).toEqual(
          raw.map((r) => ({ ...r, avg_latency_ms: expect.closeTo(r.avg_latency_ms, 9) })),
        );
      }
    }
    // An unaligned range is read from every width, raw rows only at its edges.
    const odd = {
      from: new Date("2026-03-01T05:17:23.250Z"),
      to: new Date("2026-03-03T19:02:41.900Z"),
    };
    expect(usageSpans(odd.from, odd.to).map((s) => s.width)).toEqual([
      0, 60, 3600, 86400, 3600, 60, 0,
    ]);
    const [all] = await gateway.usage({
      from: new Date(T0 - 86_400_000),
      to: new Date(T0 + 4 * 86_400_000),
    });
    expect(all?.requests).toBe(5_000);
  });

  test("grouping by run or step reads raw rows (rollups leave them out)", async () => {
    const q = {
      groupBy: ["run"] as UsageGroup[],
      from: new Date(T0),
      to: new Date(T0 + 86_400_000),
    };
    const rows = await gateway.usage(q);
    expect(rows.length).toBeGreaterThan(30);
    expect(rows).toEqual(await gateway.usage({ ...q, source: "raw" }));
  });

  test("rollup rows: one per key and bucket, however many INSERTs wrote to it", async () => {
    const [row] = await db.query<{ minutes: string; calls: string; dupes: string }>(
      `SELECT count(*) AS minutes, sum(calls) AS calls,
         count(*) - count(DISTINCT (bucket, project, requested, provider, model, agent,
           feature, tenant, outcome)) AS dupes
       FROM outlast.usage_rollups WHERE width = 60`,
    );
    expect(Number(row?.calls)).toBe(5_000);
    expect(Number(row?.dupes)).toBe(0);
    expect(Number(row?.minutes)).toBeLessThan(5_000);
  });
});
