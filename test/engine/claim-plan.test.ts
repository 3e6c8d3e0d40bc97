/**
 * The claim statement's plan on a runs table with statistics. Workers run their SQL as
 * named prepared statements, so after a few executions PostgreSQL may switch to a generic
 * plan, in which `LIMIT $n` is estimated at 10% of the ready runs. With a plain
 * `r.id = c.id` join that plan leased the chosen runs through a seq scan of every run once
 * ANALYZE had run (4.1–5.5 ms for 10 runs at 10k runs; 2.1 ms by the primary key): a claim
 * that grows with the table. This test pins the index lookup.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { CLAIM_RUNS, FINISH_AND_CLAIM } from "../../src/store/sql/runs.js";
import { uuidv7 } from "../../src/util/ids.js";
import { freshDatabaseUrl } from "../helpers/db.js";

let db: Db;
let drop: () => Promise<void>;

beforeAll(async () => {
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  db = await openStore({ databaseUrl: fresh.url });
  // 10,000 ready runs in one statement (the plan, not the insert path, is under test).
  await db.exec(`INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts)
    SELECT 'default', gen_random_uuid(), 'trivial', 'default', 'queued', 1 FROM generate_series(1, 10000)`);
  await db.exec("ANALYZE outlast.runs");
}, 60_000);

afterAll(async () => {
  await db?.close();
  await drop?.();
});

/** The generic plan of `sql` (as a prepared statement gets it), as JSON text. */
async function genericPlan(sql: string, types: string[], args: string[]): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.query("SET LOCAL plan_cache_mode = force_generic_plan");
    await tx.query(`PREPARE claim_plan (${types.join(", ")}) AS ${sql}`);
    try {
      const rows = await tx.query<Record<string, unknown>>(
        `EXPLAIN (FORMAT JSON) EXECUTE claim_plan (${args.join(", ")})`,
      );
      return JSON.stringify(rows);
    } finally {
      await tx.query("DEALLOCATE claim_plan");
    }
  });
}

test("a claim leases its runs by primary key, not by a seq scan of the runs table", async () => {
  const plan = await genericPlan(
    CLAIM_RUNS,
    ["text[]", "int", "text", "text[]", "int[]"],
    ["ARRAY['default']", "10", "'w1'", "ARRAY['a']", "ARRAY[3]"],
  );
  expect(plan).toContain("runs_pkey");
  expect(plan).not.toMatch(/Seq Scan[^}]*"Relation Name":"runs"/);
});

test("finish-and-claim does the same", async () => {
  const id = uuidv7();
  const plan = await genericPlan(
    FINISH_AND_CLAIM,
    ["uuid[]", "uuid[]", "text[]", "text[]", "text[]", "text[]", "int", "text", "text[]", "int[]"],
    [
      `ARRAY['${id}']::uuid[]`,
      `ARRAY['${uuidv7()}']::uuid[]`,
      "ARRAY['succeeded']",
      "ARRAY['1']",
      "ARRAY[NULL]::text[]",
      "ARRAY['default']",
      "10",
      "'w1'",
      "ARRAY['a']",
      "ARRAY[3]",
    ],
  );
  expect(plan).toContain("runs_pkey");
  expect(plan).not.toMatch(/Seq Scan[^}]*"Relation Name":"runs"/);
});
