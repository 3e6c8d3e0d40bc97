/**
 * pg-boss 10 (11+ need Node 22) at its defaults. Its worker loop waits the polling
 * interval (2 s) after every fetch, empty or not (src/worker.js), so concurrency here is
 * `concurrency` work() loops fetching one job each — how v10 documents concurrency.
 * Options `{ batchSize, pollingIntervalSeconds }` give the tuned variant: one work() loop
 * per unit of concurrency, each fetching `batchSize` jobs and running them at once.
 */
import PgBoss from "pg-boss";
import { freshDb, statementsSent } from "../lib/pg.js";
import { idle, until } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const QUEUE = "bench";

async function withBoss<T>(fn: (boss: PgBoss) => Promise<T>): Promise<T> {
  const db = await freshDb();
  const boss = new PgBoss({ connectionString: db.url });
  boss.on("error", () => {});
  try {
    await boss.start();
    await boss.createQueue(QUEUE);
    return await fn(boss);
  } finally {
    await boss.stop({ graceful: false, wait: true, timeout: 1_000 }).catch(() => {});
    await db.drop();
  }
}

export const create: AdapterFactory = (options) => ({
  throughput: ({ jobs, concurrency, capMs }) =>
    withBoss(async (boss) => {
      for (let i = 0; i < jobs; i += 1000) {
        const n = Math.min(1000, jobs - i);
        await boss.insert(Array.from({ length: n }, () => ({ name: QUEUE, data: {} })));
      }
      let done = 0;
      const q0 = statementsSent();
      const t0 = performance.now();
      const work: PgBoss.WorkOptions = {};
      if (options.batchSize) work.batchSize = Number(options.batchSize);
      if (options.pollingIntervalSeconds)
        work.pollingIntervalSeconds = Number(options.pollingIntervalSeconds);
      for (let w = 0; w < concurrency; w++) {
        await boss.work(QUEUE, work, async (batch) => {
          done += batch.length;
        });
      }
      await until(() => done >= jobs || performance.now() - t0 > capMs, capMs + 5_000, "jobs");
      const seconds = (performance.now() - t0) / 1000;
      const statementsPerJob = (statementsSent() - q0) / done;
      return { done, seconds, perSec: done / seconds, statementsPerJob };
    }),

  latency: ({ samples, gapMs }) =>
    withBoss(async (boss) => {
      const started = new Map<string, number>();
      for (let w = 0; w < 10; w++) {
        await boss.work<{ k: string }>(QUEUE, async ([job]) => {
          if (job) started.set(job.data.k, performance.now());
        });
      }
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const k = String(i);
        const t0 = performance.now();
        await boss.send(QUEUE, { k });
        await until(() => started.has(k), 30_000, "probe job to start", 1);
        out.push(started.get(k)! - t0);
        await idle(gapMs);
      }
      return { samplesMs: out };
    }),
});
