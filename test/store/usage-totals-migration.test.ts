/**
 * Migration 014 fills the usage totals from the rollups a deployment already has (they
 * outlive raw rows, so raw rows are not the source), and from then on the trigger keeps
 * them: after the migration, totals by project and outcome equal the rollups' sums at
 * every width, old calls and new.
 */
import { afterAll, expect, test } from "vitest";
import type { Db } from "../../src/store/db.js";
import { loadMigrations, migrate } from "../../src/store/migrate.js";
import { openStore } from "../../src/store/open.js";
import { freshDatabaseUrl } from "../helpers/db.js";

let db: Db | undefined;
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await db?.close();
  await drop?.();
});

const INSERT = `INSERT INTO outlast.gateway_calls (at, project, requested, provider, model,
    outcome, status, input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, tenant)
  SELECT $1::timestamptz + (i * 7919 % 200000) * interval '1 second',
    (ARRAY['default', 'p2'])[1 + i % 2], 'fast', 'sim', 'm' || (i % 3),
    (ARRAY['ok', 'ok', 'cache_hit', 'rate_limited'])[1 + i % 4], 200, i % 500, i % 70,
    i % 9, (i % 97) / 1000.0, i % 800, 't' || (i % 7)
  FROM generate_series($2::int, $3::int) AS i`;

/** Rollups summed to (width, bucket, project, outcome), and the totals, in one order. */
async function both(d: Db): Promise<[unknown[], unknown[]]> {
  const cols = `width, bucket, project, outcome, sum(calls)::text AS calls,
    sum(input_tokens)::text AS i, sum(output_tokens)::text AS o, sum(cached_tokens)::text AS c,
    sum(cost_usd)::text AS cost, sum(latency_ms)::text AS l`;
  const order = "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4";
  return [
    await d.query(`SELECT ${cols} FROM outlast.usage_rollups ${order}`),
    await d.query(`SELECT ${cols} FROM outlast.usage_totals ${order}`),
  ];
}

test("migration 014 backfills usage totals from the rollups, and the trigger keeps them", async () => {
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  db = await openStore({ databaseUrl: fresh.url, migrate: false });
  const all = loadMigrations();
  const before = all.filter((m) => m.id < 14);
  expect(before.length).toBeGreaterThan(0);
  await migrate(db, before);
  const t0 = "2026-03-01T00:00:00Z";
  await db.query(INSERT, [t0, 1, 3_000]);
  await migrate(db, all);
  const [rollups, totals] = await both(db);
  expect(totals.length).toBeGreaterThan(100);
  expect(totals).toEqual(rollups);
  // Calls recorded after the migration: the trigger adds them to the same rows.
  await db.query(INSERT, [t0, 3_001, 5_000]);
  const [r2, t2] = await both(db);
  expect(t2).toEqual(r2);
});
