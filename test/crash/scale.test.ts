import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Repo } from "../../src/store/repo.js";
import type { NewRun } from "../../src/types/index.js";
import { uuidv7 } from "../../src/util/ids.js";
import { processSuite, readLedger, spawnCli, until } from "../helpers/processes.js";

const CONFIG = "test/fixtures/ledger.config.ts";
const RUNS = 10_000;

describe("scale: 10,000 runs on 4 worker processes over PostgreSQL", () => {
  const suite = processSuite();

  it("loses none and runs none twice", async () => {
    const ledger = join(mkdtempSync(join(tmpdir(), "outlast-scale-")), "ledger");
    const env = { DATABASE_URL: suite.url, OUTLAST_TEST_LEDGER: ledger };
    const workers = Array.from({ length: 4 }, () =>
      spawnCli(["worker", "--config", CONFIG, "--concurrency", "25"], env),
    );
    suite.procs.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor(/worker started/)));

    const repo = new Repo(suite.db);
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; i < RUNS; i += 1_000) {
      const batch: NewRun[] = Array.from({ length: 1_000 }, () => {
        const id = uuidv7();
        ids.push(id);
        return {
          id,
          project: "default",
          agent: "one-step",
          queue: "default",
          input: null,
          maxAttempts: 3,
        };
      });
      await repo.insertRuns(batch);
    }
    await until(
      async () =>
        (
          await suite.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM outlast.runs WHERE status = 'succeeded'",
          )
        )[0]?.n === RUNS,
      120_000,
      "all runs to succeed",
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `10,000 one-step runs on 4 worker processes: ${seconds.toFixed(1)} s (${Math.round(RUNS / seconds)} runs/s, submission included)`,
    );

    const lines = readLedger(ledger);
    const byRun = new Map<string, number>();
    for (const l of lines) byRun.set(l.runId, (byRun.get(l.runId) ?? 0) + 1);
    expect(byRun.size).toBe(RUNS);
    expect([...byRun.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(lines.map((l) => l.pid)).size).toBeGreaterThan(1);
    const statuses = await suite.db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM outlast.runs GROUP BY status",
    );
    expect(statuses).toEqual([{ status: "succeeded", n: RUNS }]);
  });
});
