import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Repo } from "../../src/store/repo.js";
import { uuidv7 } from "../../src/util/ids.js";
import { processSuite, readLedger, spawnCli, until } from "../helpers/processes.js";

const CONFIG = "test/fixtures/ledger.config.ts";

describe("crash: SIGKILL a worker on PostgreSQL", () => {
  const suite = processSuite();

  it("another worker finishes every run without repeating a completed step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-crash-"));
    const ledger = join(dir, "ledger");
    const gate = join(dir, "gate");
    const env = { DATABASE_URL: suite.url, OUTLAST_TEST_LEDGER: ledger, OUTLAST_TEST_GATE: gate };
    const repo = new Repo(suite.db);
    const ids = Array.from({ length: 20 }, () => uuidv7());
    await repo.insertRuns(
      ids.map((id) => ({
        id,
        project: "default",
        agent: "thirty-steps",
        queue: "default",
        input: {},
        maxAttempts: 3,
      })),
    );

    // A takes all 20 runs and runs eight steps of each; the ninth step bodies hold on the
    // gate, so the kill lands mid-run whatever the machine's load (starting a process can
    // take seconds here).
    writeFileSync(gate, "");
    const a = spawnCli(["worker", "--config", CONFIG, "--concurrency", "20"], env);
    suite.procs.push(a);
    await a.waitFor(/worker started/);
    await until(
      () => readLedger(ledger).length === 20 * 8,
      30_000,
      "A to run eight steps of every run",
    );
    const b = spawnCli(["worker", "--config", CONFIG, "--concurrency", "20"], env);
    suite.procs.push(b);
    await b.waitFor(/worker started/);

    const beforeKill = readLedger(ledger);
    const killedAt = Date.now();
    a.child.kill("SIGKILL");
    rmSync(gate);
    await a.exited;

    await until(
      async () =>
        (
          await suite.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM outlast.runs WHERE status = 'succeeded'",
          )
        )[0]?.n === 20,
      60_000,
      "B to finish all 20 runs",
    );

    const lines = readLedger(ledger);
    const bPid = b.child.pid;
    const bLines = lines.filter((l) => l.pid === bPid);
    expect(bLines.length).toBeGreaterThan(0);
    const firstStepOfB = Math.min(...bLines.map((l) => l.at));
    // Time from the kill until B completed its first step (each step body takes 100 ms).
    // B learns of the death from A's advisory lock, gone within milliseconds, at its next
    // reap (every 500 ms): well under a second on an idle machine. Without the lock only
    // A's lease (15 s) would tell; the bound leaves room for a loaded machine below that.
    const recoveryMs = firstStepOfB - killedAt;
    console.log(`kill → first step completed on worker B: ${recoveryMs} ms (step body 100 ms)`);
    expect(recoveryMs).toBeLessThan(6_000);

    const aPid = beforeKill[0]?.pid;
    for (const id of ids) {
      const mine = lines.filter((l) => l.runId === id);
      const seqs = mine.map((l) => l.seq);
      // Every step ran, in order, ending at 30.
      expect(new Set(seqs)).toEqual(new Set(Array.from({ length: 30 }, (_, i) => i + 1)));
      // At most one step repeated: the one in flight at the kill, run by A and again by B.
      const counts = new Map<number, number>();
      for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
      const repeated = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
      expect(repeated.length).toBeLessThanOrEqual(1);
      if (repeated.length === 1) {
        const lastOfA = Math.max(...mine.filter((l) => l.pid === aPid).map((l) => l.seq));
        expect(repeated[0]).toBe(lastOfA);
      }
    }
    const rows = await suite.db.query<{ output: unknown; attempt: number }>(
      "SELECT output, attempt FROM outlast.runs",
    );
    for (const r of rows) {
      expect(r.output).toEqual({ sum: 465 });
      // The kill cost no attempt: the survivor went on with the first.
      expect(r.attempt).toBe(1);
    }
  });
});
