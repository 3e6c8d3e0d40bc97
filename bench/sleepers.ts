/**
 * 10,000 sleeping runs: a worker's resident memory while they sleep, against its idle
 * figure, and the time for all of them to wake and finish.
 * Usage: npx tsx bench/sleepers.ts [--runs 10000] [--sleep-s 40]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { openStore } from "../src/store/open.js";
import { Repo } from "../src/store/repo.js";
import { uuidv7 } from "../src/util/ids.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";
import { spawnCli } from "../test/helpers/processes.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    "sleep-s": { type: "string", default: "40" },
  },
});
const RUNS = Number(values.runs);
const SLEEP_S = Number(values["sleep-s"]);

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
};
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { url, drop } = await freshDatabaseUrl();
const db = await openStore({ databaseUrl: url });
const count = async (status: string) =>
  (
    await db.query<{ n: number }>("SELECT count(*)::int AS n FROM outlast.runs WHERE status = $1", [
      status,
    ])
  )[0]!.n;

const worker = spawnCli(["worker", "--config", "bench/fixtures/sleepers.config.ts"], {
  DATABASE_URL: url,
  OUTLAST_LOG_LEVEL: "warn",
});
try {
  await wait(3_000);
  const pid = worker.child.pid!;
  const idle: number[] = [];
  for (let i = 0; i < 5; i++) {
    idle.push(rssMb(pid));
    await wait(200);
  }
  const idleMb = Math.max(...idle);

  const wakeAt = new Date(Date.now() + SLEEP_S * 1_000).toISOString();
  const repo = new Repo(db);
  for (let i = 0; i < RUNS; i += 1_000) {
    await repo.insertRuns(
      Array.from({ length: Math.min(1_000, RUNS - i) }, () => ({
        id: uuidv7(),
        project: "default",
        agent: "bench-sleeper",
        queue: "default",
        input: { wakeAt },
        maxAttempts: 3,
      })),
    );
  }
  const t0 = Date.now();
  while ((await count("waiting")) < RUNS) {
    if (Date.now() - t0 > SLEEP_S * 1_000) {
      const by = await db.query(
        "SELECT status, count(*)::int AS n FROM outlast.runs GROUP BY status",
      );
      throw new Error(`runs did not all park before their wake time: ${JSON.stringify(by)}`);
    }
    await wait(200);
  }
  const parkedS = (Date.now() - t0) / 1_000;
  const sleeping: number[] = [];
  while (Date.now() < new Date(wakeAt).getTime() - 1_000) {
    sleeping.push(rssMb(pid));
    await wait(500);
  }
  const sleepingMb = Math.max(...sleeping.slice(Math.floor(sleeping.length / 2)));
  const tWake = Date.now();
  while ((await count("succeeded")) < RUNS) await wait(200);
  const wokeS = (Date.now() - new Date(wakeAt).getTime()) / 1_000;

  console.log(`\n${RUNS} sleeping runs, one worker process (concurrency 50), PostgreSQL`);
  console.log(
    "| worker RSS idle | worker RSS while they sleep | ratio | all parked after | all finished after wake time |",
  );
  console.log("|---|---|---|---|---|");
  console.log(
    `| ${idleMb.toFixed(1)} MB | ${sleepingMb.toFixed(1)} MB | ${(sleepingMb / idleMb).toFixed(2)}× | ${parkedS.toFixed(1)} s | ${wokeS.toFixed(1)} s |`,
  );
  void tWake;
} finally {
  worker.child.kill("SIGTERM");
  await worker.exited;
  await db.close();
  await drop();
}
