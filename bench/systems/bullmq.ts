/**
 * BullMQ on the local Redis at its defaults: one Worker with `concurrency`, jobs kept
 * after completion (the default), a fresh queue name per round, obliterated afterwards.
 * Kill test: lockDuration 30 s and stalledInterval 30 s (defaults) decide recovery.
 */
import { randomBytes } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { idle, sleep, until } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const connection = {
  host: process.env.REDIS_HOST ?? "127.0.0.1",
  port: Number(process.env.REDIS_PORT ?? 6379),
  maxRetriesPerRequest: null,
};
const fresh = () => `bench-${randomBytes(4).toString("hex")}`;

async function cleanup(queue: Queue, worker?: Worker): Promise<void> {
  await worker?.close(true);
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
}

export const create: AdapterFactory = () => {
  let resumedAt: number | null = null;
  const open: (Queue | Worker)[] = [];

  return {
    async throughput({ jobs, concurrency, capMs }) {
      const queue = new Queue(fresh(), { connection });
      let worker: Worker | undefined;
      try {
        for (let i = 0; i < jobs; i += 1000) {
          const n = Math.min(1000, jobs - i);
          await queue.addBulk(Array.from({ length: n }, () => ({ name: "trivial", data: {} })));
        }
        let done = 0;
        const t0 = performance.now();
        worker = new Worker(queue.name, async () => {}, { connection, concurrency });
        worker.on("completed", () => {
          done++;
        });
        await until(() => done >= jobs || performance.now() - t0 > capMs, capMs + 5_000, "jobs");
        const seconds = (performance.now() - t0) / 1000;
        return { done, seconds, perSec: done / seconds };
      } finally {
        await cleanup(queue, worker);
      }
    },

    async latency({ samples, gapMs }) {
      const queue = new Queue(fresh(), { connection });
      const started = new Map<string, number>();
      const worker = new Worker(
        queue.name,
        async (job) => {
          started.set((job.data as { k: string }).k, performance.now());
        },
        { connection, concurrency: 10 },
      );
      try {
        await worker.waitUntilReady();
        await sleep(200);
        const out: number[] = [];
        for (let i = 0; i < samples; i++) {
          const k = String(i);
          const t0 = performance.now();
          await queue.add("probe", { k });
          await until(() => started.has(k), 30_000, "probe job to start", 0);
          out.push(started.get(k)! - t0);
          await idle(gapMs);
        }
        return { samplesMs: out };
      } finally {
        await cleanup(queue, worker);
      }
    },

    async victim({ queue: name }) {
      let held!: () => void;
      const isHeld = new Promise<void>((r) => {
        held = r;
      });
      const queue = new Queue(name, { connection });
      const worker = new Worker(
        name,
        async () => {
          held();
          await new Promise(() => {});
        },
        { connection },
      );
      open.push(queue, worker);
      await queue.add("hold", {});
      await isHeld;
      return { pid: process.pid };
    },

    async rescuer({ queue: name }) {
      const worker = new Worker(
        name,
        async () => {
          resumedAt ??= Date.now();
        },
        { connection },
      );
      open.push(worker);
      await worker.waitUntilReady();
      return { ready: true };
    },

    async rescued({ queue: name, timeoutMs }) {
      await until(() => resumedAt !== null, timeoutMs, "rescue", 5).catch(() => {});
      const queue = new Queue(name, { connection });
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      return { resumedAt };
    },

    async close() {
      for (const o of open.reverse()) await o.close().catch(() => {});
    },
  };
};
