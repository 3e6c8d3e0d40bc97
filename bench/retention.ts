/**
 * Retention while work runs (PostgreSQL): 100,000 old finished runs (with steps and their
 * events, bulk-inserted) are pruned by the retention pruner while 20 runs execute on a
 * worker. Rounds alternate without and with the pruner (3 each, order swapped every
 * round); each round runs 20 runs of --steps no-op steps and takes every step's latency.
 * A sampler polls pg_stat_activity/pg_locks every ~5 ms for backends waiting on a lock
 * and reports how long each wait was seen (and on what), so a wait on runs or steps
 * above 10 ms would show. The pruner runs with its defaults (1,000 rows, 50 ms, duty 0.25).
 * After the rounds, the rest is pruned alone, without pauses, and timed.
 * Usage: npx tsx bench/retention.ts [--runs 100000] [--steps 300] [--old-steps 5] [--duty 0.25]
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { defineAgent } from "../src/engine/agent.js";
import { RunService } from "../src/engine/run-service.js";
import { Worker } from "../src/engine/worker.js";
import { Pruner } from "../src/retention/pruner.js";
import { RunsTarget } from "../src/retention/targets.js";
import { openStore } from "../src/store/open.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";
import { fanOutAll, insertOldRuns } from "../test/helpers/retention.js";
import { median, percentile } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "100000" },
    steps: { type: "string", default: "300" },
    "old-steps": { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    duty: { type: "string", default: "0.25" },
  },
});
const OLD_RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const ROUNDS = Number(values.rounds);
const IN_FLIGHT = 20;
const DAY = 86_400_000;

let stepMs: number[] = [];
const agents = [
  defineAgent({
    name: "steps",
    run: async (ctx, n: number) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await ctx.step(`s${i}`, () => i);
        stepMs.push(performance.now() - t0);
      }
      return n;
    },
  }),
];

interface Wait {
  first: number;
  last: number;
  /** wait event and the relation (or lock type) waited for */
  on: string;
  query: string;
  /** a blocker was running one of the pruner's statements */
  byPruner: boolean;
}

/** The pruner's statements (src/store/sql/retention.ts). */
const PRUNER_SQL = /DELETE FROM outlast\.|pg_try_advisory_xact_lock|AS children/;

/** Polls lock waits until stopped; returns every wait seen with its observed span. */
function sampleLockWaits(url: string): { stop: () => Promise<Wait[]> } {
  const client = new pg.Client({ connectionString: url });
  const waits = new Map<string, Wait>();
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{
        pid: number;
        since: string;
        on: string | null;
        event: string;
        query: string;
        blockers: string | null;
      }>(
        `SELECT a.pid, a.query_start::text AS since, a.wait_event AS event,
           left(a.query, 200) AS query,
           (SELECT string_agg(DISTINCT coalesce(l.relation::regclass::text, l.locktype), ',')
            FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) AS on,
           (SELECT string_agg(left(b.query, 200), ' | ') FROM pg_stat_activity b
            WHERE b.pid = ANY (pg_blocking_pids(a.pid))) AS blockers
         FROM pg_stat_activity a
         WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()`,
      );
      const now = performance.now();
      for (const r of rows) {
        const key = `${r.pid} ${r.since}`;
        const w = waits.get(key);
        if (w) w.last = now;
        else
          waits.set(key, {
            first: now,
            last: now,
            on: `${r.event} ${r.on ?? "?"}`,
            query: r.query.replace(/\s+/g, " "),
            byPruner: PRUNER_SQL.test(r.blockers ?? ""),
          });
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await client.end();
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...waits.values()];
    },
  };
}

const pgdb = await freshDatabaseUrl();
const db = await openStore({ databaseUrl: pgdb.url });
const service = new RunService(db, agents);
await service.start();
try {
  let t0 = performance.now();
  // 2,000 runs a statement: each run's step events take an advisory lock held to commit
  // (20,000 ran out of max_locks_per_transaction).
  for (let done = 0; done < OLD_RUNS; done += 2_000) {
    await insertOldRuns(db, {
      count: Math.min(2_000, OLD_RUNS - done),
      steps: Number(values["old-steps"]),
      daysAgo: 40,
      agent: `old-${done}`,
    });
  }
  await fanOutAll(db);
  await db.exec("ANALYZE");
  const [sizes] = await db.query<{ runs: string; steps: string; events: string }>(
    `SELECT (SELECT count(*) FROM outlast.runs) AS runs, (SELECT count(*) FROM outlast.steps) AS steps,
       (SELECT count(*) FROM outlast.events) AS events`,
  );
  console.log(
    `loaded ${sizes?.runs} old finished runs, ${sizes?.steps} steps, ${sizes?.events} events in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );

  const worker = new Worker({ db, agents, concurrency: IN_FLIGHT });
  await worker.start();
  const results: { mode: "off" | "on"; p50: number; p99: number; pruned: number; secs: number }[] =
    [];
  const waits: Record<"off" | "on", Wait[]> = { off: [], on: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order: ("off" | "on")[] = round % 2 === 0 ? ["off", "on"] : ["on", "off"];
    for (const mode of order) {
      stepMs = [];
      let pruned = 0;
      const pruner =
        mode === "on"
          ? new Pruner({
              db,
              rules: [{ target: new RunsTarget(), keepMs: 30 * DAY }],
              duty: Number(values.duty),
              onBatch: (_, r) => {
                pruned += r.deleted;
              },
            })
          : undefined;
      const sampler = sampleLockWaits(pgdb.url);
      t0 = performance.now();
      const pass = pruner?.runPass();
      const ids = await Promise.all(
        Array.from(
          { length: IN_FLIGHT },
          async () => (await service.submit({ agent: "steps", input: STEPS })).run.id,
        ),
      );
      await Promise.all(ids.map((id) => service.waitFor(id, 600_000)));
      const secs = (performance.now() - t0) / 1000;
      await pruner?.stop();
      await pass;
      waits[mode].push(...(await sampler.stop()));
      results.push({
        mode,
        p50: median(stepMs),
        p99: percentile(stepMs, 99),
        pruned,
        secs,
      });
      console.log(
        `round ${round + 1} pruning ${mode}: ${stepMs.length} steps in ${secs.toFixed(1)} s, step p50 ${median(stepMs).toFixed(3)} ms, p99 ${percentile(stepMs, 99).toFixed(3)} ms${mode === "on" ? `, ${pruned} rows pruned meanwhile (${(pruned / secs).toFixed(0)}/s)` : ""}`,
      );
    }
  }
  await worker.stop();

  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const off = results.filter((x) => x.mode === "off")[r];
    const on = results.filter((x) => x.mode === "on")[r];
    if (off && on) ratios.push(on.p50 / off.p50);
  }
  console.log(
    `step p50 with pruning ÷ without, per round: ${ratios.map((x) => x.toFixed(3)).join(", ")}; median ${median(ratios).toFixed(3)}`,
  );
  const long = (w: Wait) => w.last - w.first;
  // Row-level and table locks (relation, tuple, transactionid) are what the pruner could
  // make a statement on runs or steps wait for; `object` waits are commits queueing for
  // the NOTIFY queue, advisory ones the engine's per-run event numbering.
  const rowLevel = (w: Wait) => /relation|tuple|transactionid/.test(w.on);
  const onRunsOrSteps = (w: Wait) => /outlast\.(runs|steps)\b/.test(w.query);
  const longest = (ws: Wait[]) => (ws.length ? `${Math.max(...ws.map(long)).toFixed(1)} ms` : "-");
  for (const mode of ["off", "on"] as const) {
    const ws = waits[mode];
    const rs = ws.filter((w) => onRunsOrSteps(w) && rowLevel(w));
    console.log(
      `pruning ${mode}: ${ws.length} lock waits seen (longest ${longest(ws)}); row or table lock waits of statements on runs or steps: ${rs.length}, longest ${longest(rs)}, over 10 ms: ${rs.filter((w) => long(w) > 10).length}; waits blocked by the pruner: ${ws.filter((w) => w.byPruner).length}, longest ${longest(ws.filter((w) => w.byPruner))}`,
    );
    const kinds = new Map<string, number>();
    for (const w of ws) kinds.set(w.on, (kinds.get(w.on) ?? 0) + 1);
    console.log(`  by lock: ${[...kinds].map(([k, n]) => `${k} ×${n}`).join(", ")}`);
  }

  // What is left, pruned alone.
  let rest = 0;
  t0 = performance.now();
  const report = await new Pruner({
    db,
    rules: [{ target: new RunsTarget(), keepMs: 30 * DAY }],
    duty: 1,
    pauseMs: 0,
  }).runPass();
  rest = report.deleted.runs ?? 0;
  const [left] = await db.query<{ n: string }>(
    "SELECT count(*) AS n FROM outlast.runs WHERE agent LIKE 'old-%'",
  );
  console.log(
    `the rest pruned alone: ${rest} rows in ${report.transactions} transactions, ${((performance.now() - t0) / 1000).toFixed(1)} s (${(rest / ((performance.now() - t0) / 1000)).toFixed(0)} rows/s); old runs left: ${left?.n}`,
  );
} finally {
  await service.stop();
  await db.close();
  await pgdb.drop();
}
