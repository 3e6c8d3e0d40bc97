/**
 * Outlast, driven in-process the way bench/core.ts does it: `Repo.insertRuns` for bulk
 * enqueue, `RunService.submit` + `waitFor` for single runs (the API's path), one `Worker`.
 * Options: `{ store: "postgres" | "pglite" }`; PGlite keeps its data in a temporary
 * folder, as `outlast dev` does (not in memory). `{ synchronousCommit: "off" }` sets that
 * on the round's PostgreSQL database: the profile workload's A/B of what the WAL flush
 * of each commit costs (never used for the comparisons).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { Repo } from "../../src/store/repo.js";
import type { NewRun } from "../../src/types/index.js";
import { uuidv7 } from "../../src/util/ids.js";
import { PG_ADMIN_URL } from "../../test/helpers/db.js";
import { profileCpu } from "../lib/cpuprofile.js";
import { type GraphState, graphNode } from "../lib/graph.js";
import { freshDb, statementsSent } from "../lib/pg.js";
import { closedLoop, idle, until } from "../lib/stats.js";
import type { AdapterFactory, SystemAdapter } from "../lib/types.js";

const started = new Map<string, number>();
/** Kill test: the victim hangs in step 2; the rescuer records when step 2 began again. */
let role: "victim" | "rescuer" | undefined;
let onHeld: (() => void) | undefined;
let resumedAt: number | null = null;

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
    name: "graph",
    run: async (ctx, nodes: number) => {
      let s: GraphState = { n: 0, trail: [] };
      for (let i = 0; i < nodes; i++) {
        const prev = s;
        s = await ctx.step(`node${i}`, () => graphNode(prev, i));
      }
      return s;
    },
  }),
  defineAgent({
    name: "probe",
    run: async (ctx) => {
      started.set(ctx.runId, performance.now());
      return 1;
    },
  }),
  defineAgent({
    name: "hold",
    run: async (ctx) => {
      await ctx.step("first", () => 1);
      return ctx.step("second", async () => {
        if (role === "victim") {
          onHeld?.();
          await new Promise(() => {});
        }
        resumedAt ??= Date.now();
        return 2;
      });
    },
  }),
];

interface Store {
  db: Db;
  /** Closes the connections (idempotent); the database stays. */
  closeDb(): Promise<void>;
  /** closeDb, then drops the database. */
  close(): Promise<void>;
}

const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
};

/**
 * PGlite takes ~3 s to start and migrate on a quiet machine (~10 s seen under load), so
 * one instance per process serves every round, emptied between rounds: what
 * test/helpers/db.ts does for the test suite.
 */
let pglite: Promise<{ db: Db; dir: string }> | undefined;
async function closePglite(): Promise<void> {
  const p = await pglite?.catch(() => undefined);
  pglite = undefined;
  if (!p) return;
  await p.db.close();
  rmSync(p.dir, { recursive: true, force: true });
}

async function openFresh(kind: string, synchronousCommit?: string): Promise<Store> {
  if (kind === "pglite") {
    pglite ??= (async () => {
      const dir = mkdtempSync(join(tmpdir(), "outlast-bench-"));
      return { db: await openStore({ dataDir: dir }), dir };
    })();
    const { db } = await pglite;
    const tables = await db.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'outlast' AND tablename <> 'migrations'",
    );
    await db.exec(`TRUNCATE ${tables.map((r) => `outlast.${r.t}`).join(", ")} CASCADE`);
    return { db, closeDb: async () => {}, close: async () => {} };
  }
  const fresh = await freshDb();
  if (synchronousCommit) await setDatabase(fresh.url, "synchronous_commit", synchronousCommit);
  const db = await openStore({ databaseUrl: fresh.url });
  const closeDb = once(() => db.close());
  return {
    db,
    closeDb,
    close: async () => {
      await closeDb();
      await fresh.drop();
    },
  };
}

/** ALTER DATABASE … SET for the connections opened after it. */
async function setDatabase(url: string, name: string, value: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    const db = pg.escapeIdentifier(new URL(url).pathname.slice(1));
    await c.query(`ALTER DATABASE ${db} SET ${name} = ${pg.escapeLiteral(value)}`);
  } finally {
    await c.end();
  }
}

interface System {
  service: RunService;
  store: Store;
  /** Stops the worker and closes every connection (idempotent); the database stays. */
  shutdown: () => Promise<void>;
}

/** A fresh store with an API-side RunService and one worker, all torn down afterwards. */
async function withSystem<T>(
  kind: string,
  concurrency: number,
  fn: (s: System) => Promise<T>,
  synchronousCommit?: string,
): Promise<T> {
  const store = await openFresh(kind, synchronousCommit);
  const service = new RunService(store.db, agents);
  const worker = new Worker({ db: store.db, agents, concurrency });
  const shutdown = once(async () => {
    await worker.stop();
    await service.stop();
    await store.closeDb();
  });
  try {
    await service.start();
    await worker.start();
    return await fn({ service, store, shutdown });
  } finally {
    await shutdown();
    await store.close();
  }
}

export const create: AdapterFactory = (options) => {
  const kind = String(options.store ?? "postgres");
  const sc = options.synchronousCommit as string | undefined;
  let kill: { db: Db; service: RunService; worker: Worker } | undefined;

  const adapter: SystemAdapter = {
    async throughput({ jobs, concurrency, capMs, profile }) {
      const store = await openFresh(kind, sc);
      try {
        const repo = new Repo(store.db);
        for (let i = 0; i < jobs; i += 1000) {
          const batch: NewRun[] = Array.from({ length: Math.min(1000, jobs - i) }, () => ({
            id: uuidv7(),
            project: "default",
            agent: "trivial",
            queue: "default",
            input: null,
            maxAttempts: 1,
          }));
          await repo.insertRuns(batch);
        }
        // Finishing workers NOTIFY `outlast_done` with the ids of each batch they commit.
        let done = 0;
        const unlisten = await store.db.listen("outlast_done", (p) => {
          done += p.split(",").length;
        });
        const worker = new Worker({ db: store.db, agents, concurrency });
        const stopProfile = profile ? await profileCpu() : undefined;
        const q0 = statementsSent();
        const t0 = performance.now();
        await worker.start();
        await until(() => done >= jobs || performance.now() - t0 > capMs, capMs + 5_000, "jobs");
        const seconds = (performance.now() - t0) / 1000;
        const cpu = await stopProfile?.();
        const statementsPerJob = kind === "postgres" ? (statementsSent() - q0) / done : undefined;
        await worker.stop();
        await unlisten();
        return { done, seconds, perSec: done / seconds, statementsPerJob, cpu };
      } finally {
        await store.close();
      }
    },

    latency: ({ samples, gapMs }) =>
      withSystem(
        kind,
        10,
        async ({ service }) => {
          const out: number[] = [];
          const enqueueMs: number[] = [];
          for (let i = 0; i < samples; i++) {
            const t0 = performance.now();
            const { run } = await service.submit({ agent: "probe" });
            enqueueMs.push(performance.now() - t0);
            await until(() => started.has(run.id), 30_000, "probe run to start", 0);
            out.push(started.get(run.id)! - t0);
            await idle(gapMs);
          }
          return { samplesMs: out, enqueueMs };
        },
        sc,
      ),

    steps: ({ steps, workflows, concurrency }) =>
      withSystem(kind, Math.max(10, concurrency), async ({ service }) => {
        const one = async () => {
          const { run } = await service.submit({ agent: "steps", input: steps });
          const r = await service.waitFor(run.id, 60_000);
          if (r.run.status !== "succeeded") throw new Error(`run ended ${r.run.status}`);
        };
        await one(); // warm-up: first-use statement preparation
        const q0 = statementsSent();
        const ms = await closedLoop(workflows, concurrency, one);
        const q = statementsSent() - q0;
        return {
          msPerWorkflow: (ms * concurrency) / workflows,
          workflowsPerSec: workflows / (ms / 1000),
          statementsPerWorkflow: kind === "postgres" ? q / workflows : undefined,
        };
      }),

    async checkpoint({ nodes, invocations, persist }) {
      if (!persist) {
        // The same logic with no engine: the node functions called in order.
        const ms = await closedLoop(invocations, 1, async () => {
          let s: GraphState = { n: 0, trail: [] };
          for (let i = 0; i < nodes; i++) s = await Promise.resolve(graphNode(s, i));
        });
        return { msPerInvocation: ms / invocations };
      }
      return withSystem(kind, 10, async ({ service }) => {
        const one = async () => {
          const { run } = await service.submit({ agent: "graph", input: nodes });
          const r = await service.waitFor(run.id, 60_000);
          if (r.run.status !== "succeeded") throw new Error(`run ended ${r.run.status}`);
        };
        await one(); // warm-up
        const ms = await closedLoop(invocations, 1, one);
        return { msPerInvocation: ms / invocations };
      });
    },

    async victim({ databaseUrl }) {
      role = "victim";
      const db = await openStore({ databaseUrl });
      const service = new RunService(db, agents);
      const worker = new Worker({ db, agents });
      await worker.start();
      const held = new Promise<void>((r) => {
        onHeld = r;
      });
      await service.submit({ agent: "hold" });
      await held;
      kill = { db, service, worker };
      return { pid: process.pid };
    },

    async rescuer({ databaseUrl }) {
      role = "rescuer";
      const db = await openStore({ databaseUrl });
      const service = new RunService(db, agents);
      const worker = new Worker({ db, agents });
      await worker.start();
      kill = { db, service, worker };
      return { ready: true };
    },

    async rescued({ timeoutMs }) {
      await until(() => resumedAt !== null, timeoutMs, "rescue", 1).catch(() => {});
      return { resumedAt };
    },

    async close() {
      await closePglite();
      if (!kill) return;
      await kill.worker.stop(0);
      await kill.db.close();
      kill = undefined;
    },
  };
  return adapter;
};
