/**
 * graphile-worker at its defaults (pollInterval 2 s with LISTEN/NOTIFY, no local queue,
 * no completion batching), `concurrency` jobs at once in one runner.
 */
import { Logger, makeWorkerUtils, run, runMigrations, type TaskList } from "graphile-worker";
import { freshDb, statementsSent } from "../lib/pg.js";
import { idle, until } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const logger = new Logger(() => () => {});

async function migratedDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  const db = await freshDb();
  await runMigrations({ connectionString: db.url, logger });
  return db;
}

export const create: AdapterFactory = () => {
  let resumedAt: number | null = null;
  let runner: Awaited<ReturnType<typeof run>> | undefined;

  return {
    async throughput({ jobs, concurrency, capMs }) {
      const db = await migratedDb();
      try {
        const utils = await makeWorkerUtils({ connectionString: db.url, logger });
        for (let i = 0; i < jobs; i += 1000) {
          const n = Math.min(1000, jobs - i);
          await utils.addJobs(
            Array.from({ length: n }, () => ({ identifier: "trivial", payload: {} })),
          );
        }
        await utils.release();
        let done = 0;
        const q0 = statementsSent();
        const t0 = performance.now();
        const r = await run({
          connectionString: db.url,
          concurrency,
          noHandleSignals: true,
          logger,
          taskList: { trivial: async () => {} },
        });
        r.events.on("job:complete", () => {
          done++;
        });
        await until(() => done >= jobs || performance.now() - t0 > capMs, capMs + 5_000, "jobs");
        const seconds = (performance.now() - t0) / 1000;
        const statementsPerJob = (statementsSent() - q0) / done;
        await r.stop();
        return { done, seconds, perSec: done / seconds, statementsPerJob };
      } finally {
        await db.drop();
      }
    },

    async latency({ samples, gapMs }) {
      const db = await migratedDb();
      const started = new Map<string, number>();
      try {
        const utils = await makeWorkerUtils({ connectionString: db.url, logger });
        const r = await run({
          connectionString: db.url,
          concurrency: 10,
          noHandleSignals: true,
          logger,
          taskList: {
            probe: async (payload) => {
              started.set((payload as { k: string }).k, performance.now());
            },
          },
        });
        const out: number[] = [];
        for (let i = 0; i < samples; i++) {
          const k = String(i);
          const t0 = performance.now();
          await utils.addJob("probe", { k });
          await until(() => started.has(k), 30_000, "probe job to start", 0);
          out.push(started.get(k)! - t0);
          await idle(gapMs);
        }
        await r.stop();
        await utils.release();
        return { samplesMs: out };
      } finally {
        await db.drop();
      }
    },

    async victim({ databaseUrl }) {
      await runMigrations({ connectionString: databaseUrl, logger });
      let held!: () => void;
      const isHeld = new Promise<void>((r) => {
        held = r;
      });
      const tasks: TaskList = {
        hold: async () => {
          held();
          await new Promise(() => {});
        },
      };
      runner = await run({
        connectionString: databaseUrl,
        noHandleSignals: true,
        logger,
        taskList: tasks,
      });
      await runner.addJob("hold", {});
      await isHeld;
      return { pid: process.pid };
    },

    async rescuer({ databaseUrl }) {
      runner = await run({
        connectionString: databaseUrl,
        noHandleSignals: true,
        logger,
        taskList: {
          hold: async () => {
            resumedAt ??= Date.now();
          },
        },
      });
      return { ready: true };
    },

    async rescued({ timeoutMs }) {
      await until(() => resumedAt !== null, timeoutMs, "rescue", 5).catch(() => {});
      return { resumedAt };
    },

    async close() {
      await runner?.stop().catch(() => {});
    },
  };
};
