import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RunService } from "../../src/engine/run-service.js";
import { ThreadService } from "../../src/engine/thread-service.js";
import { appender, threeSteps } from "../fixtures/threads.config.js";
import { processSuite, readFields, spawnCli, until } from "../helpers/processes.js";

const CONFIG = "test/fixtures/threads.config.ts";

async function countStatus(
  suite: { db: { query: RunService["db"]["query"] } },
  status: string,
  agent: string,
): Promise<number> {
  const rows = await suite.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outlast.runs WHERE status = $1 AND agent = $2",
    [status, agent],
  );
  return rows[0]?.n ?? 0;
}

describe("threads across worker processes on PostgreSQL", () => {
  const suite = processSuite();

  it("4 workers, 40 threads × 5 runs: no overlap in a thread, run id order, within 2× of 200 independent runs", async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "outlast-threads-")), "ledger");
    const env = { DATABASE_URL: suite.url, OUTLAST_TEST_LEDGER: ledger };
    const workers = Array.from({ length: 4 }, () =>
      spawnCli(["worker", "--config", CONFIG, "--concurrency", "25"], env),
    );
    suite.procs.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor(/worker started/, 60_000)));
    const service = new RunService(suite.db, [threeSteps, appender]);

    async function batch(threads: number, perThread: number, label: string) {
      const started = Date.now();
      const subs: Promise<string>[] = [];
      for (let r = 0; r < perThread; r++) {
        for (let t = 0; t < threads; t++) {
          subs.push(
            service
              .submit({ agent: "three-steps", thread_id: `${label}-${t}` })
              .then((s) => s.run.id),
          );
        }
      }
      const ids = await Promise.all(subs);
      await until(
        async () => {
          const rows = await suite.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM outlast.runs WHERE id = ANY($1::uuid[]) AND status = 'succeeded'",
            [ids],
          );
          return rows[0]?.n === ids.length;
        },
        120_000,
        `${label}: all runs to succeed`,
      );
      return { ids, ms: Date.now() - started };
    }

    // Submitted all at once (200 concurrent submits through the pool).
    const base = await batch(200, 1, "solo");
    const threaded = await batch(40, 5, "t");
    console.log(
      `200 runs on 200 threads: ${base.ms} ms; 40 threads × 5 runs: ${threaded.ms} ms (${(threaded.ms / base.ms).toFixed(2)}×)`,
    );

    const marks = readFields(ledger);
    const runs = await suite.db.query<{ id: string; thread_id: string }>(
      "SELECT id, thread_id FROM outlast.runs WHERE thread_id LIKE 't-%' ORDER BY id",
    );
    const byThread = new Map<string, string[]>();
    for (const r of runs) byThread.set(r.thread_id, [...(byThread.get(r.thread_id) ?? []), r.id]);
    expect(byThread.size).toBe(40);
    for (const [, ids] of byThread) {
      expect(ids).toHaveLength(5);
      const spans = ids.map((id) => {
        const start = marks.filter((m) => m[0] === id && m[1] === "start").map((m) => Number(m[2]));
        const end = marks.filter((m) => m[0] === id && m[1] === "end").map((m) => Number(m[2]));
        return { start: Math.min(...start), end: Math.max(...end) };
      });
      for (let i = 1; i < spans.length; i++) {
        // Run id order, and each starts after the one before ended.
        expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
      }
    }
    expect(threaded.ms).toBeLessThan(2 * base.ms);
  }, 300_000);

  it("kill -9 during runs that append leaves every message on the thread exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-threads-kill-"));
    const gate = join(dir, "gate");
    const env = {
      DATABASE_URL: suite.url,
      OUTLAST_TEST_LEDGER: join(dir, "ledger"),
      OUTLAST_TEST_GATE: gate,
    };
    const service = new RunService(suite.db, [threeSteps, appender]);
    const tags = Array.from({ length: 10 }, (_, i) => `k${i}`);
    writeFileSync(gate, "");
    const ids: string[] = [];
    for (const tag of tags) {
      ids.push(
        (await service.submit({ agent: "appender", input: { tag }, thread_id: tag })).run.id,
      );
    }
    const a = spawnCli(["worker", "--config", CONFIG, "--concurrency", "20"], env);
    suite.procs.push(a);
    await a.waitFor(/worker started/, 60_000);
    const threads = new ThreadService(suite.db);
    await until(
      async () => {
        for (const tag of tags)
          if ((await threads.get("default", tag)).message_count < 10) return false;
        return true;
      },
      60_000,
      "every run to append ten messages and hold",
    );
    // The first kill lands while every run holds at its gate; the second while they append.
    a.child.kill("SIGKILL");
    await a.exited;
    const b = spawnCli(["worker", "--config", CONFIG, "--concurrency", "20"], env);
    suite.procs.push(b);
    await b.waitFor(/worker started/, 60_000);
    rmSync(gate);
    await until(
      async () =>
        (
          await suite.db.query<{ n: number }>(
            "SELECT coalesce(sum(message_count), 0)::int AS n FROM outlast.threads",
          )
        )[0]!.n >= 150,
      60_000,
      "B to be half way through the appends",
    );
    b.child.kill("SIGKILL");
    await b.exited;
    const c = spawnCli(["worker", "--config", CONFIG, "--concurrency", "20"], env);
    suite.procs.push(c);
    await c.waitFor(/worker started/, 60_000);
    await until(
      async () => (await countStatus(suite, "succeeded", "appender")) === 10,
      90_000,
      "C to finish",
    );

    for (const tag of tags) {
      const page = await threads.messages("default", tag, { limit: 200 });
      const contents = page.messages.map((m) => m.message.content);
      expect(contents).toEqual(Array.from({ length: 30 }, (_, i) => `${tag}:${i + 1}`));
      const t = await threads.get("default", tag);
      expect(t).toMatchObject({ message_count: 30, version: 30, status: "idle" });
    }
    const versions = await suite.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outlast.thread_versions",
    );
    expect(versions[0]?.n).toBe(300);
  }, 300_000);
});
