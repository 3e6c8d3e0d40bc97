/**
 * 1,000 runs stacked behind one busy thread must not slow other threads' runs: the
 * enqueue-to-start time (runs.started_at − created_at) of runs on other threads, with and
 * without the stack, in alternating rounds, each on a fresh database. Prints each round and
 * the median of the per-round ratios of medians (with ÷ without). Issue 22's target: within
 * 10% (a ratio ≤ 1.10).
 *
 * Usage: npx tsx bench/thread-stack.ts [--store postgres|pglite] [--rounds 3] [--stack 1000]
 *        [--probes 200]
 */
import { parseArgs } from "node:util";
import { defineAgent } from "../src/engine/agent.js";
import { RunService } from "../src/engine/run-service.js";
import { Worker } from "../src/engine/worker.js";
import type { Db } from "../src/store/db.js";
import { openStore } from "../src/store/open.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "postgres" },
    rounds: { type: "string", default: "3" },
    stack: { type: "string", default: "1000" },
    probes: { type: "string", default: "200" },
  },
});
const ROUNDS = Number(values.rounds);
const STACK = Number(values.stack);
const PROBES = Number(values.probes);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const agents = [
  // Holds its thread: parked in a long sleep (a waiting run keeps its thread).
  defineAgent({ name: "holder", run: async (ctx) => ctx.sleep("hold", "1h") }),
  defineAgent({ name: "probe", run: async (ctx) => ctx.step("one", () => 1) }),
];

async function open(): Promise<{ db: Db; close: () => Promise<void> }> {
  if (values.store === "pglite") {
    const db = await openStore({ dataDir: "memory" });
    return { db, close: () => db.close() };
  }
  const { url, drop } = await freshDatabaseUrl();
  const db = await openStore({ databaseUrl: url });
  return {
    db,
    close: async () => {
      await db.close();
      await drop();
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** Median enqueue-to-start (ms) of PROBES runs, each on its own thread, submitted 10 ms apart. */
async function round(stacked: boolean): Promise<number> {
  const { db, close } = await open();
  const service = new RunService(db, agents);
  const worker = new Worker({ db, agents, concurrency: 20 });
  try {
    await worker.start();
    if (stacked) {
      const h = await service.submit({ agent: "holder", thread_id: "busy" });
      while ((await service.get(h.run.id)).status !== "waiting") await wait(20);
      for (let i = 0; i < STACK; i++) await service.submit({ agent: "holder", thread_id: "busy" });
    }
    const ids: string[] = [];
    for (let i = 0; i < PROBES; i++) {
      ids.push((await service.submit({ agent: "probe", thread_id: `probe-${i}` })).run.id);
      await wait(10);
    }
    for (const id of ids) await service.waitFor(id, 60_000);
    const rows = await db.query<{ ms: number }>(
      `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms
       FROM outlast.runs WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    if (stacked) {
      const held = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outlast.runs WHERE thread_id = 'busy' AND status = 'queued'",
      );
      if (held[0]?.n !== STACK) throw new Error(`expected ${STACK} runs held, got ${held[0]?.n}`);
    }
    return median(rows.map((r) => r.ms));
  } finally {
    await worker.stop(1_000);
    await close();
  }
}

console.log(
  `enqueue-to-start of ${PROBES} runs on their own threads, with and without ${STACK} runs stacked behind one busy thread (${values.store})`,
);
console.log("| round | without: median ms | with: median ms | ratio |");
console.log("|---|---|---|---|");
const ratios: number[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  // Alternate which goes first, so drift on a shared machine hits both alike.
  const [a, b] = r % 2 === 1 ? [false, true] : [true, false];
  const first = await round(a);
  const second = await round(b);
  const without = a ? second : first;
  const withStack = a ? first : second;
  ratios.push(withStack / without);
  console.log(
    `| ${r} | ${without.toFixed(2)} | ${withStack.toFixed(2)} | ${(withStack / without).toFixed(3)} |`,
  );
}
console.log(`\nmedian ratio (with ÷ without) over ${ROUNDS} rounds: ${median(ratios).toFixed(3)}`);
