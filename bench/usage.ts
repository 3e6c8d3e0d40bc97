/**
 * `GET /v1/usage` over 30 days with 1,000,000 raw usage rows: answered from rollups
 * (migration 012) through real HTTP, against the raw-row query the endpoint ran before
 * (the same SQL, called through the gateway with source "raw"; rollups through the
 * gateway directly too, for a like-for-like comparison). Rows are bulk-inserted with
 * generate_series over the 30 days: 5 agents × 4 models × 6 features × 50 tenants ×
 * 4 outcomes, so most minutes hold a distinct key per call (the worst case for minute
 * rollups; a month is then 30 day rows per key). Grouped by nothing, day or hour, the
 * per-project totals of migration 014 answer (720 hours × 3 outcomes for a month by hour).
 * Usage: npx tsx bench/usage.ts [--rows 1000000] [--calls 20] [--only postgres|pglite]
 */

import { parseArgs } from "node:util";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createGateway, type Gateway, mountGateway } from "../src/gateway/index.js";
import type { Db } from "../src/store/db.js";
import { openStore } from "../src/store/open.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";
import { median, percentile } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    calls: { type: "string", default: "20" },
    only: { type: "string" },
  },
});
const ROWS = Number(values.rows);
const CALLS = Number(values.calls);
const DAYS = 30;

async function load(db: Db): Promise<number> {
  const t0 = performance.now();
  const chunk = 100_000;
  for (let lo = 0; lo < ROWS; lo += chunk) {
    await db.query(
      `INSERT INTO outlast.gateway_calls (at, project, agent, run_id, feature, tenant,
         requested, provider, model, outcome, status, input_tokens, output_tokens,
         cached_tokens, cost_usd, latency_ms)
       SELECT now() - ($3::float8 * 86400 * ((i::bigint * 7919) % $2::bigint) / $2::float8) * interval '1 second',
         'default', 'agent-' || (i % 5), 'run-' || (i / 20), 'feature-' || (i % 6),
         'tenant-' || (i % 50), 'fast', 'sim', 'model-' || (i % 4),
         (ARRAY['ok', 'ok', 'cache_hit', 'rate_limited'])[1 + i % 4], 200,
         100 + i % 900, 20 + i % 300, i % 50, (i % 1000) / 100000.0, 50 + i % 2000
       FROM generate_series($1::int, $1::int + $4::int - 1) AS i`,
      [lo, ROWS, DAYS, Math.min(chunk, ROWS - lo)],
    );
    process.stdout.write(`\r  loaded ${Math.min(lo + chunk, ROWS).toLocaleString()} rows`);
  }
  process.stdout.write("\n");
  // What autovacuum does to tables after a million inserts and upserts.
  await db.exec("VACUUM ANALYZE outlast.gateway_calls");
  await db.exec("VACUUM ANALYZE outlast.usage_rollups");
  await db.exec("VACUUM ANALYZE outlast.usage_totals");
  return performance.now() - t0;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const GROUPINGS = ["", "model", "feature,tenant", "day", "hour"];

async function bench(kind: "postgres" | "pglite"): Promise<void> {
  const pg = kind === "postgres" ? await freshDatabaseUrl() : undefined;
  const db = await openStore(pg ? { databaseUrl: pg.url } : { dataDir: "memory" });
  const gateway: Gateway = createGateway({ db, config: {} });
  const app = new Hono();
  mountGateway(app, gateway);
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as { port: number };
  try {
    const loadMs = await load(db);
    const [sizes] = await db.query<{
      raw: string;
      rollups: string;
      days: string;
      totals: string;
    }>(
      `SELECT (SELECT count(*) FROM outlast.gateway_calls) AS raw,
         (SELECT count(*) FROM outlast.usage_rollups) AS rollups,
         (SELECT count(*) FROM outlast.usage_rollups WHERE width = 86400) AS days,
         (SELECT count(*) FROM outlast.usage_totals) AS totals`,
    );
    console.log(
      `${kind}: ${sizes?.raw} raw rows loaded in ${(loadMs / 1000).toFixed(1)} s (rollups in the same statements): ${sizes?.rollups} rollup rows, ${sizes?.days} of them day rows; ${sizes?.totals} total rows (per project and outcome: grouped by nothing, day or hour)`,
    );
    for (const g of GROUPINGS) {
      const groupBy = g ? (g.split(",") as never[]) : [];
      const http = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/usage${g ? `?group_by=${g}` : ""}`);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return res.json();
      };
      const direct = () => gateway.usage({ groupBy });
      const raw = () => gateway.usage({ groupBy, source: "raw" });
      // Same figures both ways (avg latency to rounding).
      const [a, b] = await Promise.all([direct(), raw()]);
      const strip = (rs: typeof a) => JSON.stringify(rs.map(({ avg_latency_ms: _, ...r }) => r));
      if (strip(a) !== strip(b)) throw new Error(`rollups and raw rows disagree (${g})`);
      await http(); // warm
      const t = { http: [] as number[], direct: [] as number[], raw: [] as number[] };
      // Alternating: one call of each per round, so drift hits all three alike.
      for (let i = 0; i < CALLS; i++) {
        t.http.push(await timed(http));
        t.direct.push(await timed(direct));
        if (i < Math.min(CALLS, 5) || kind === "postgres") t.raw.push(await timed(raw));
      }
      const f = (xs: number[]) =>
        `p50 ${median(xs).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
      console.log(
        `  group_by=${g || "(none)"} rows=${a.length}: HTTP rollups ${f(t.http)} | gateway rollups ${f(t.direct)} | raw rows ${f(t.raw)} (${t.raw.length} calls) | raw/rollups ×${(median(t.raw) / median(t.direct)).toFixed(0)}`,
      );
    }
  } finally {
    server.close();
    await gateway.close();
    await db.close();
    await pg?.drop();
  }
}

for (const kind of ["postgres", "pglite"] as const) {
  if (values.only && values.only !== kind) continue;
  await bench(kind);
}
