/**
 * The core engine of this tree against another checkout of Outlast, in one process, in
 * alternating short rounds: on a shared, noisy machine two separate `bench/core.ts` runs
 * minutes apart differ by more than the change being measured, while rounds interleaved
 * a second apart see the same noise. Each tree uses its own source, migrations and store.
 *
 *   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   npx tsx bench/compare-trees.ts --base /tmp/base [--this .] [--store pglite|postgres] [--rounds 10]
 *
 * Prints each round and the median of the per-round ratios (this tree ÷ base). On PGlite the
 * database runs inside this process, so its CPU time per run and per step is the whole
 * work done, and it moves far less with the machine's load than wall time does: the CPU
 * columns are the ones to trust on a busy machine (wall-time rounds here moved ±30%).
 * A tree with src/metrics gets its engine observer (the /metrics histograms); NO_OBS=1
 * leaves it out.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { freshDatabaseUrl } from "../test/helpers/db.js";

const { values } = parseArgs({
  options: {
    base: { type: "string" },
    /** The tree compared with base. Default: this one. */
    this: { type: "string", default: "." },
    store: { type: "string", default: "pglite" },
    rounds: { type: "string", default: "10" },
    runs: { type: "string", default: "1000" },
    steps: { type: "string", default: "200" },
  },
});
if (!values.base) throw new Error("--base <folder of another checkout> is required");
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);

// The two trees' modules, loaded by path: each has its own classes and SQL.
// biome-ignore lint/suspicious/noExplicitAny: two versions of the engine's API, by path
type Any = any;
interface Tree {
  name: string;
  db: Any;
  service: Any;
  Worker: Any;
  agents: Any[];
  /** The engine observer of the tree's /metrics (src/metrics), where it has one. */
  observer: Any;
  insertTrivial(n: number): Promise<void>;
}

async function load(name: string, root: string): Promise<Tree> {
  const mod = (p: string) => import(pathToFileURL(resolve(root, p)).href);
  const [{ defineAgent }, { RunService }, { Worker }, { openStore }, { Repo }, { uuidv7 }] =
    await Promise.all([
      mod("src/engine/agent.ts"),
      mod("src/engine/run-service.ts"),
      mod("src/engine/worker.ts"),
      mod("src/store/open.ts"),
      mod("src/store/repo.ts"),
      mod("src/util/ids.ts"),
    ]);
  const agents = [
    defineAgent({ name: "trivial", run: async () => 1 }),
    defineAgent({
      name: "steps",
      run: async (ctx: Any, n: number) => {
        for (let i = 0; i < n; i++) await ctx.step(`s${i}`, () => i);
        return n;
      },
    }),
  ];
  const pg = values.store === "postgres" ? await freshDatabaseUrl() : undefined;
  const db = await openStore(pg ? { databaseUrl: pg.url } : { dataDir: "memory" });
  const service = new RunService(db, agents);
  await service.start();
  const repo = new Repo(db);
  const metrics = await mod("src/metrics/index.ts").catch(() => undefined);
  return {
    name,
    db,
    observer: process.env.NO_OBS ? undefined : metrics?.createMetrics({ db }).observer,
    service,
    Worker,
    agents,
    async insertTrivial(n) {
      for (let i = 0; i < n; i += 500) {
        const batch = Array.from({ length: Math.min(500, n - i) }, () => ({
          id: uuidv7(),
          // Trees from before projects (migration 015) ignore it.
          project: "default",
          agent: "trivial",
          queue: "default",
          input: null,
          maxAttempts: 1,
        }));
        await repo.insertRuns(batch);
      }
    },
  };
}

async function succeeded(t: Tree): Promise<number> {
  const rows = await t.db.query(
    "SELECT count(*)::int AS n FROM outlast.runs WHERE status = 'succeeded'",
  );
  return rows[0].n;
}

/** CPU ms this process spent since `from` (user + system). */
function cpuMsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

/** Trivial runs per second, the runs enqueued beforehand (one worker, concurrency 10). */
async function trivial(t: Tree): Promise<{ perSec: number; cpuMs: number }> {
  await t.insertTrivial(RUNS);
  const before = await succeeded(t);
  const worker = new t.Worker({
    db: t.db,
    agents: t.agents,
    concurrency: 10,
    observer: t.observer,
  });
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  await worker.start();
  while ((await succeeded(t)) - before < RUNS) await new Promise((r) => setTimeout(r, 10));
  const cpuMs = cpuMsSince(cpu) / RUNS;
  const secs = (performance.now() - t0) / 1000;
  await worker.stop();
  return { perSec: RUNS / secs, cpuMs };
}

/** Ms per no-op step of one run alone, wall and CPU. */
async function stepMs(t: Tree): Promise<{ wall: number; cpu: number }> {
  const worker = new t.Worker({ db: t.db, agents: t.agents, concurrency: 1, observer: t.observer });
  await worker.start();
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  const { run } = await t.service.submit({ agent: "steps", input: STEPS });
  await t.service.waitFor(run.id, 120_000);
  const cpuMs = cpuMsSince(cpu);
  const wall = performance.now() - t0;
  await worker.stop();
  return { wall: wall / STEPS, cpu: cpuMs / STEPS };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const trees = [await load("base", values.base), await load("this", resolve(values.this))];
type Round = { rps: number; runCpu: number; ms: number; stepCpu: number };
const ratios = {
  rps: [] as number[],
  runCpu: [] as number[],
  ms: [] as number[],
  stepCpu: [] as number[],
};
console.log(
  "| round | runs/s base | this | CPU ms/run base | this | ms/step base | this | CPU ms/step base | this |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (let r = 1; r <= ROUNDS; r++) {
  // Alternate which tree goes first, so neither always meets a warmer or colder machine.
  const order = r % 2 ? trees : [...trees].reverse();
  const got = new Map<string, Round>();
  for (const t of order) {
    const run = await trivial(t);
    const step = await stepMs(t);
    got.set(t.name, { rps: run.perSec, runCpu: run.cpuMs, ms: step.wall, stepCpu: step.cpu });
  }
  const b = got.get("base") as Round;
  const n = got.get("this") as Round;
  for (const k of ["rps", "runCpu", "ms", "stepCpu"] as const) ratios[k].push(n[k] / b[k]);
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(3));
  console.log(
    `| ${r} | ${f(b.rps)} | ${f(n.rps)} | ${f(b.runCpu)} | ${f(n.runCpu)} | ${f(b.ms)} | ${f(n.ms)} | ${f(b.stepCpu)} | ${f(n.stepCpu)} |`,
  );
}
const m = (k: keyof typeof ratios) => `×${median(ratios[k]).toFixed(3)}`;
console.log(
  `\nmedian ratio (this ÷ base) over ${ROUNDS} rounds on ${values.store}: trivial runs/s ${m("rps")}, CPU ms/run ${m("runCpu")}; ms/step of one run ${m("ms")}, CPU ms/step ${m("stepCpu")}`,
);
for (const t of trees) {
  await t.service.stop();
  await t.db.close();
}
