/**
 * DBOS Transact at its defaults, system database on the local PostgreSQL (a fresh one
 * per round). A workflow of `steps` `DBOS.runStep` calls, called directly (awaited in
 * process — DBOS's own fast path). Latency: a workflow enqueued on a DBOS queue
 * (queues poll every 1 s by default).
 */
import { DBOS } from "@dbos-inc/dbos-sdk";
import { freshDb, statementsSent } from "../lib/pg.js";
import { closedLoop, idle, sleep, until } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const started = new Map<string, number>();

async function withDbos<T>(
  fn: (wf: {
    steps: (n: number) => Promise<number>;
    probe: (k: string) => Promise<void>;
  }) => Promise<T>,
): Promise<T> {
  const db = await freshDb();
  // Registration must precede launch; shutdown({ deregister }) clears it for the next round.
  const steps = DBOS.registerWorkflow(
    async (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await DBOS.runStep(async () => i, { name: `s${i}` });
      return sum;
    },
    { name: "steps" },
  );
  const probe = DBOS.registerWorkflow(
    async (k: string) => {
      started.set(k, performance.now());
    },
    { name: "probe" },
  );
  DBOS.setConfig({ name: "outlast-bench", systemDatabaseUrl: db.url, logLevel: "error" });
  try {
    await DBOS.launch();
    return await fn({ steps, probe });
  } finally {
    await DBOS.shutdown({ deregister: true }).catch(() => {});
    await db.drop();
  }
}

export const create: AdapterFactory = () => ({
  steps: ({ steps, workflows, concurrency }) =>
    withDbos(async ({ steps: run }) => {
      await run(steps); // warm-up: first-use statement preparation
      const q0 = statementsSent();
      const ms = await closedLoop(workflows, concurrency, async () => {
        const sum = await run(steps);
        if (sum !== (steps * (steps - 1)) / 2) throw new Error(`wrong result ${sum}`);
      });
      return {
        msPerWorkflow: (ms * concurrency) / workflows,
        workflowsPerSec: workflows / (ms / 1000),
        statementsPerWorkflow: (statementsSent() - q0) / workflows,
      };
    }),

  latency: ({ samples, gapMs }) =>
    withDbos(async ({ probe }) => {
      await DBOS.registerQueue("bench");
      await sleep(200);
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const k = `${i}-${Math.random()}`;
        const t0 = performance.now();
        await DBOS.startWorkflow(probe, { queueName: "bench" })(k);
        await until(() => started.has(k), 30_000, "probe workflow to start", 1);
        out.push(started.get(k)! - t0);
        await idle(gapMs);
      }
      return { samplesMs: out };
    }),
});
