/**
 * Core engine figures for PostgreSQL and PGlite, side by side in one run:
 *   - trivial runs per second (one worker, concurrency 10, runs enqueued beforehand);
 *   - per-step journal overhead (no-op steps; one run alone, and 10 runs at once);
 *   - enqueue-to-start latency p50/p99 on an idle worker.
 *   - with --fairness N: trivial runs/s again with tenant fairness on, the runs spread over
 *     N tenants, between two runs with it off (claim cost on vs off, same session).
 * Usage: npx tsx bench/core.ts [--runs 20000] [--only postgres|pglite] [--fairness 10]
 */

import { parseArgs } from "node:util";
import { defineAgent } from "../src/engine/agent.js";
import { RunService } from "../src/engine/run-service.js";
import { Worker } from "../src/engine/worker.js";
import { Fairness } from "../src/quota/fairness.js";
import type { Db } from "../src/store/db.js";
import { openStore } from "../src/store/open.js";
import { Repo } from "../src/store/repo.js";
import type { NewRun } from "../src/types/index.js";
import { uuidv7 } from "../src/util/ids.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20000" },
    only: { type: "string" },
    steps: { type: "string", default: "200" },
    fairness: { type: "string" },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const TENANTS = values.fairness === undefined ? 0 : Number(values.fairness);

const started = new Map<string, number>();
const agents = [
  defineAgent({ name: "trivial", run: async () => 1 }),
  defineAgent({
    name: "steps",
    run: async (ctx, n: number) => {
      for (let i = 0; i < n; i++) await ctx.step(`s${i}`, () => i);
      return n;
    },
  }),
  defineAgent({
    name: "probe",
    run: async (ctx) => {
      started.set(ctx.runId, performance.now());
      return 1;
    },
  }),
];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function countDone(db: Db): Promise<number> {
  return (
    await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outlast.runs WHERE status = 'succeeded'",
    )
  )[0]!.n;
}

/** `tenants` > 0: runs round-robin over that many tenants, and fairness on. */
async function trivialThroughput(db: Db, tenants = 0): Promise<number> {
  const repo = new Repo(db);
  const before = await countDone(db);
  for (let i = 0; i < RUNS; i += 1000) {
    const batch: NewRun[] = Array.from({ length: Math.min(1000, RUNS - i) }, (_, j) => ({
      id: uuidv7(),
      project: "default",
      agent: "trivial",
      queue: "default",
      input: null,
      maxAttempts: 1,
      ...(tenants > 0 ? { tags: { tenant: `t${(i + j) % tenants}` } } : {}),
    }));
    await repo.insertRuns(batch);
  }
  const worker = new Worker({
    db,
    agents,
    concurrency: 10,
    ...(tenants > 0 ? { fairness: new Fairness({}) } : {}),
  });
  const t0 = performance.now();
  await worker.start();
  while ((await countDone(db)) - before < RUNS) await new Promise((r) => setTimeout(r, 20));
  const secs = (performance.now() - t0) / 1000;
  await worker.stop();
  return RUNS / secs;
}

async function stepOverhead(
  db: Db,
  service: RunService,
  parallel: number,
): Promise<{ perStepMs: number; amortizedMs: number }> {
  const worker = new Worker({ db, agents, concurrency: parallel });
  await worker.start();
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from(
      { length: parallel },
      async () => (await service.submit({ agent: "steps", input: STEPS })).run.id,
    ),
  );
  await Promise.all(ids.map((id) => service.waitFor(id, 120_000)));
  const wall = performance.now() - t0;
  await worker.stop();
  return { perStepMs: wall / STEPS, amortizedMs: wall / (STEPS * parallel) };
}

async function startLatency(db: Db, service: RunService): Promise<{ p50: number; p99: number }> {
  const worker = new Worker({ db, agents, concurrency: 10 });
  await worker.start();
  const samples: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    const { run } = await service.submit({ agent: "probe" });
    while (!started.has(run.id)) await new Promise((r) => setImmediate(r));
    samples.push(started.get(run.id)! - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  await worker.stop();
  return { p50: pct(samples, 50), p99: pct(samples, 99) };
}

/** Reference: one INSERT and commit of a small row, as a step's floor cost on this store. */
async function rawCommitMs(db: Db): Promise<number> {
  await db.exec("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, v jsonb)");
  const n = 1000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await db.query("INSERT INTO bench_raw (v) VALUES ($1::jsonb)", ['{"v":1}']);
  return (performance.now() - t0) / n;
}

async function benchBackend(kind: "postgres" | "pglite") {
  const pg = kind === "postgres" ? await freshDatabaseUrl() : undefined;
  const db = await openStore(pg ? { databaseUrl: pg.url } : { dataDir: "memory" });
  const service = new RunService(db, agents);
  await service.start();
  try {
    const rps = await trivialThroughput(db);
    const fair =
      TENANTS > 0
        ? { on: await trivialThroughput(db, TENANTS), offAgain: await trivialThroughput(db) }
        : undefined;
    const seq = await stepOverhead(db, service, 1);
    const par = await stepOverhead(db, service, 10);
    const lat = await startLatency(db, service);
    const raw = await rawCommitMs(db);
    return { kind, rps, fair, seq, par, lat, raw };
  } finally {
    await service.stop();
    await db.close();
    await pg?.drop();
  }
}

const rows = [];
for (const kind of ["postgres", "pglite"] as const) {
  if (values.only && values.only !== kind) continue;
  process.stderr.write(`benchmarking ${kind}…\n`);
  rows.push(await benchBackend(kind));
}
console.log(`\ncore engine, ${RUNS} trivial runs, ${STEPS}-step runs for step overhead`);
console.log(
  "| store | trivial runs/s | ms/step, 1 run | ms/step, 10 runs (per run) | ms/step, 10 runs (amortized) | raw INSERT commit ms | 1-run step ÷ raw commit | start p50 ms | start p99 ms |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.kind} | ${Math.round(r.rps)} | ${r.seq.perStepMs.toFixed(3)} | ${r.par.perStepMs.toFixed(3)} | ${r.par.amortizedMs.toFixed(3)} | ${r.raw.toFixed(3)} | ${(r.seq.perStepMs / r.raw).toFixed(2)}× | ${r.lat.p50.toFixed(2)} | ${r.lat.p99.toFixed(2)} |`,
  );
}
if (TENANTS > 0) {
  console.log(
    `\ntrivial runs/s with tenant fairness (${TENANTS} tenants) and without, one session`,
  );
  console.log("| store | off | on | off again | on ÷ mean(off) |");
  console.log("|---|---|---|---|---|");
  for (const r of rows) {
    if (!r.fair) continue;
    const off = (r.rps + r.fair.offAgain) / 2;
    console.log(
      `| ${r.kind} | ${Math.round(r.rps)} | ${Math.round(r.fair.on)} | ${Math.round(r.fair.offAgain)} | ${(r.fair.on / off).toFixed(2)} |`,
    );
  }
}
