/**
 * Retention on both backends: what a pass deletes, what it must keep (runs in flight,
 * events pending webhook delivery, usage rollups), and the row budget of a transaction.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { createGateway } from "../../src/gateway/index.js";
import { Pruner, type PrunerOptions, type RetentionRule } from "../../src/retention/pruner.js";
import type { PruneResult } from "../../src/retention/target.js";
import {
  deliveriesTarget,
  EventsTarget,
  RunsTarget,
  usageTarget,
} from "../../src/retention/targets.js";
import type { Db } from "../../src/store/db.js";
import { FAN_OUT } from "../../src/store/sql/webhooks.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { fanOutAll, insertOldRuns } from "../helpers/retention.js";

const DAY = 86_400_000;

describe.each(BACKENDS)("retention on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
  });
  afterAll(() => close());
  beforeEach(() =>
    db.exec(`TRUNCATE outlast.runs, outlast.steps, outlast.events, outlast.signals,
      outlast.webhook_endpoints, outlast.webhook_deliveries, outlast.webhook_attempts,
      outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals, outlast.api_keys;
      UPDATE outlast.webhook_cursor SET txid = '0'::xid8, event_id = 0;`),
  );

  const pass = (rules: RetentionRule[], batchRows = 1_000, onBatch?: PrunerOptions["onBatch"]) =>
    new Pruner({ db, rules, batchRows, pauseMs: 0, duty: 1, onBatch }).runPass();
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, params))[0]?.n);

  test("removes finished runs older than the limit with their parts; keeps the rest", async () => {
    await insertOldRuns(db, { count: 5, steps: 3, daysAgo: 40, agent: "old-done" });
    await insertOldRuns(db, {
      count: 2,
      steps: 2,
      daysAgo: 40,
      status: "running",
      agent: "old-running",
    });
    await insertOldRuns(db, { count: 3, steps: 1, daysAgo: 1, agent: "recent" });
    // An old finished child whose parent is still running stays (the parent may read it).
    await insertOldRuns(db, { count: 1, steps: 1, daysAgo: 40, agent: "child" });
    await db.query(
      `UPDATE outlast.runs SET parent_run_id = (
         SELECT id FROM outlast.runs WHERE agent = 'old-running' LIMIT 1) WHERE agent = 'child'`,
    );
    await db.query(
      `INSERT INTO outlast.signals (run_id, name, consumed_seq)
       SELECT id, 'go', 1 FROM outlast.runs WHERE agent = 'old-done'`,
    );
    // A per-run webhook of an old run goes with it; one of a recent run stays.
    await db.query(
      `INSERT INTO outlast.webhook_endpoints (project, id, kind, url, event_types, run_id)
       SELECT 'default', gen_random_uuid(), 'webhook', 'http://127.0.0.1:9/' || agent, '{run.*}', id
       FROM (SELECT DISTINCT ON (agent) agent, id FROM outlast.runs
             WHERE agent IN ('old-done', 'recent')) r`,
    );
    // A run token (ctx.runToken()) of an old run goes with it; one of a recent run stays.
    await db.query(
      `INSERT INTO outlast.api_keys (id, project, role, name, prefix, secret_hash, source,
         run_id, revoked_at)
       SELECT 'olr_' || agent, 'default', 'submit', 'run token', 'olr_' || agent, 'x', 'run',
         id, CASE WHEN agent = 'old-done' THEN now() END
       FROM (SELECT DISTINCT ON (agent) agent, id FROM outlast.runs
             WHERE agent IN ('old-done', 'recent')) r`,
    );
    await fanOutAll(db);

    const report = await pass([{ target: new RunsTarget(), keepMs: 30 * DAY }]);

    // 5 × (1 run + 3 steps + 7 events (the run's, each step's started and finished) + 1 signal)
    // + the per-run webhook + the run token
    expect(report.deleted.runs).toBe(60 + 1 + 1);
    expect(await count("outlast.api_keys WHERE source = 'run'")).toBe(1);
    expect(await count("outlast.api_keys WHERE id = 'olr_recent'")).toBe(1);
    expect(await count("outlast.webhook_endpoints WHERE url LIKE '%/recent'")).toBe(1);
    expect(await count("outlast.webhook_endpoints")).toBe(1);
    const left = await db.query<{ agent: string; n: string }>(
      "SELECT agent, count(*) AS n FROM outlast.runs GROUP BY agent ORDER BY agent",
    );
    expect(left.map((r) => [r.agent, Number(r.n)])).toEqual([
      ["child", 1],
      ["old-running", 2],
      ["recent", 3],
    ]);
    expect(
      await count(
        "outlast.steps s WHERE NOT EXISTS (SELECT 1 FROM outlast.runs r WHERE r.id = s.run_id)",
      ),
    ).toBe(0);
    expect(
      await count(
        "outlast.events e WHERE NOT EXISTS (SELECT 1 FROM outlast.runs r WHERE r.id = e.run_id)",
      ),
    ).toBe(0);
    expect(await count("outlast.signals")).toBe(0);
    expect(await count("outlast.steps")).toBe(2 * 2 + 3 + 1);
  });

  test("never deletes an event pending webhook delivery, nor a run that has one", async () => {
    await insertOldRuns(db, { count: 2, steps: 3, daysAgo: 10, agent: "kept-run" });
    await insertOldRuns(db, { count: 1, steps: 1, daysAgo: 40, agent: "unread" });
    // Not fanned out yet: the run and its events stay whatever their age.
    let report = await pass([
      { target: new EventsTarget(), keepMs: 7 * DAY },
      { target: new RunsTarget(), keepMs: 30 * DAY },
    ]);
    expect(report.deleted).toEqual({ events: 0, runs: 0 });

    // A subscription to step events: fan-out makes pending deliveries for them.
    await db.query(
      `INSERT INTO outlast.webhook_endpoints (project, id, kind, url, event_types, created_at)
       VALUES ('default', gen_random_uuid(), 'webhook', 'http://127.0.0.1:9/x', '{step.finished}',
         now() - interval '60 days')`,
    );
    // The fan-out reads events of transactions older than every running one in the
    // cluster (other databases' too): it may take a few calls on a busy server.
    const deadline = Date.now() + 30_000;
    while (
      (await count("outlast.events e, outlast.webhook_cursor c WHERE e.id > c.event_id")) > 0
    ) {
      if (Date.now() > deadline) throw new Error("fan-out did not reach the last event in 30 s");
      await db.query(FAN_OUT, [10_000]);
      await new Promise((r) => setTimeout(r, 10));
    }
    // Deliveries of the first kept-run's events and of the old run are settled; one of
    // the second kept-run's stays pending.
    const pending = await db.query<{ event_id: string }>(
      `UPDATE outlast.webhook_deliveries SET status = 'delivered', updated_at = now() - interval '20 days'
       WHERE event_seq <> 3 OR run_id <> (
         SELECT id FROM outlast.runs WHERE agent = 'kept-run' ORDER BY id DESC LIMIT 1)
       RETURNING event_id`,
    );
    expect(pending.length).toBe(3 + 3 + 1 - 1);

    report = await pass([
      { target: deliveriesTarget(), keepMs: 7 * DAY },
      { target: new EventsTarget(), keepMs: 7 * DAY },
      { target: new RunsTarget(), keepMs: 30 * DAY },
    ]);
    // Settled deliveries went; events older than 7 days went but for the pending one and
    // each run's latest; the old run, fanned out and settled now, went whole.
    expect(report.deleted.deliveries).toBe(6);
    expect(report.deleted.events).toBe(6 + 5 + 2);
    expect(report.deleted.runs).toBe(3);
    const events = await db.query<{ agent: string; seq: number; pending: boolean }>(
      `SELECT r.agent, e.seq, EXISTS (SELECT 1 FROM outlast.webhook_deliveries d
         WHERE d.event_id = e.id AND d.status = 'pending') AS pending
       FROM outlast.events e JOIN outlast.runs r ON r.id = e.run_id ORDER BY r.id, e.seq`,
    );
    expect(events.every((e) => e.agent === "kept-run")).toBe(true);
    expect(events.filter((e) => e.pending).map((e) => e.seq)).toEqual([3]);
    expect(events.filter((e) => !e.pending).map((e) => e.seq)).toEqual([7, 7]);
  });

  test("pruning raw usage keeps the rollups: /v1/usage totals stay", async () => {
    await db.query(
      `INSERT INTO outlast.gateway_calls (at, project, requested, provider, model, outcome, status,
         input_tokens, output_tokens, cost_usd, latency_ms)
       SELECT now() - (i % 50) * interval '1 day' - interval '1 hour', 'p', 'fast', 'sim', 'm',
         'ok', 200, 10, 5, 0.001, 100
       FROM generate_series(1, 500) AS i`,
    );
    const gateway = createGateway({ db, config: {} });
    const range = { from: new Date(Date.now() - 60 * DAY), to: new Date() };
    const before = await gateway.usage(range);
    expect(before[0]).toMatchObject({ requests: 500, input_tokens: 5000 });

    const report = await pass([{ target: usageTarget(), keepMs: 30 * DAY }]);
    expect(report.deleted.usage).toBe(200); // days 30..49 (× 10 each)
    expect(await count("outlast.gateway_calls")).toBe(300);
    expect(await gateway.usage(range)).toEqual(before);
  });

  test("a transaction deletes at most batchRows rows, a run bigger than that over several", async () => {
    await insertOldRuns(db, { count: 40, steps: 5, daysAgo: 40, agent: "small" });
    await insertOldRuns(db, { count: 1, steps: 150, daysAgo: 41, agent: "big" });
    await fanOutAll(db);
    const total = async () =>
      (await count("outlast.runs")) +
      (await count("outlast.steps")) +
      (await count("outlast.events"));
    const before = await total();
    expect(before).toBe(40 * 17 + 1 + 150 + 301);

    // Rows gone per committed transaction, counted in the tables themselves (the next
    // transaction waits for onBatch).
    const gone: number[] = [];
    const batches: PruneResult[] = [];
    let last = before;
    const report = await pass(
      [{ target: new RunsTarget(), keepMs: 30 * DAY }],
      100,
      async (_, r) => {
        batches.push(r);
        const n = await total();
        gone.push(last - n);
        last = n;
      },
    );
    expect(await total()).toBe(0);
    expect(report.deleted.runs).toBe(before);
    expect(Math.max(...gone)).toBeLessThanOrEqual(100);
    expect(Math.max(...batches.map((b) => b.deleted))).toBeLessThanOrEqual(100);
    expect(gone.reduce((a, b) => a + b, 0)).toBe(before);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(before / 100));
  });
});
