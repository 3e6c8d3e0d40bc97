import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Repo } from "../../src/store/repo.js";
import { uuidv7 } from "../../src/util/ids.js";
import {
  type CliProcess,
  processSuite,
  readFields,
  spawnCli,
  until,
} from "../helpers/processes.js";

const CONFIG = "test/fixtures/drain.config.ts";
/** The fixture's worker.shutdownGraceMs. */
const GRACE_MS = 4_000;

interface Note {
  role: string;
  event: string;
  runId: string;
  seq: number;
  at: number;
}

function readNotes(dir: string): Note[] {
  return readFields(join(dir, "ledger")).map(([role, event, runId, seq, at]) => ({
    role: role!,
    event: event!,
    runId: runId!,
    seq: Number(seq),
    at: Number(at),
  }));
}

describe("drain: SIGTERM a worker on PostgreSQL", () => {
  const suite = processSuite();

  it("lets in-flight runs finish within the grace period, then hands the rest to another worker at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-drain-"));
    const env = { DATABASE_URL: suite.url, OUTLAST_TEST_DIR: dir };
    const repo = new Repo(suite.db);
    const start = async (role: string): Promise<CliProcess> => {
      const p = spawnCli(["worker", "--config", CONFIG], { ...env, OUTLAST_TEST_ROLE: role });
      suite.procs.push(p);
      await p.waitFor(/worker started/);
      return p;
    };
    const briefs = Array.from({ length: 3 }, () => uuidv7());
    const lengthies = Array.from({ length: 3 }, () => uuidv7());
    await repo.insertRuns([
      ...briefs.map((id) => ({
        id,
        project: "default",
        agent: "brief",
        queue: "default",
        input: {},
        maxAttempts: 3,
      })),
      ...lengthies.map((id) => ({
        id,
        project: "default",
        agent: "lengthy",
        queue: "default",
        input: {},
        maxAttempts: 3,
      })),
    ]);
    const inStep2 = (role: string, ids: string[]) =>
      ids.every((id) =>
        readNotes(dir).some(
          (n) => n.role === role && n.event === "entered" && n.runId === id && n.seq === 2,
        ),
      );

    // The first worker holds all six runs in step 2; the second is up, idle.
    const first = await start("first");
    await until(() => inStep2("first", [...briefs, ...lengthies]), 30_000, "six runs in step 2");
    const second = await start("second");
    const attemptsBefore = await suite.db.query<{ id: string; attempt: number }>(
      "SELECT id, attempt FROM outlast.runs ORDER BY id",
    );

    const sigtermAt = Date.now();
    first.child.kill("SIGTERM");
    await first.waitFor(/SIGTERM: draining/);
    // The brief runs' step 2 ends now: well within the grace period.
    writeFileSync(join(dir, "finish-brief"), "");
    const exitCode = await first.exited;
    const exitedAt = Date.now();
    expect(exitCode).toBe(0);
    // The drain waited out its grace period for the lengthy runs, and not much longer.
    expect(exitedAt - sigtermAt).toBeGreaterThanOrEqual(GRACE_MS);
    expect(exitedAt - sigtermAt).toBeLessThan(GRACE_MS + 10_000);

    await until(
      async () =>
        (
          await suite.db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM outlast.runs WHERE status = 'succeeded'",
          )
        )[0]?.n === 6,
      30_000,
      "all six runs to succeed",
    );
    const notes = readNotes(dir);
    const rows = new Map(
      (
        await suite.db.query<{ id: string; output: unknown; finished_at: Date; attempt: number }>(
          "SELECT id, output, finished_at, attempt FROM outlast.runs",
        )
      ).map((r) => [r.id, r]),
    );
    // In flight at SIGTERM, finished by the draining worker within the grace period.
    for (const id of briefs) {
      expect(rows.get(id)?.output).toBe("first");
      expect(rows.get(id)!.finished_at.getTime() - sigtermAt).toBeLessThan(GRACE_MS);
      expect(notes.filter((n) => n.runId === id && n.role === "second")).toEqual([]);
    }
    // Still running when the grace ran out: aborted, given back, and resumed at once by
    // the second worker (its poll is 30 s: only the hand-back's NOTIFY wakes it) from the
    // interrupted step — the steps before it are not run again.
    for (const id of lengthies) {
      expect(rows.get(id)?.output).toBe("second");
      expect(notes.some((n) => n.runId === id && n.role === "first" && n.event === "aborted")).toBe(
        true,
      );
      const resumed = notes.find((n) => n.runId === id && n.role === "second");
      expect(resumed).toMatchObject({ event: "entered", seq: 2 });
      expect(resumed!.at - sigtermAt).toBeGreaterThanOrEqual(GRACE_MS);
      expect(resumed!.at - exitedAt).toBeLessThan(5_000);
      expect(notes.filter((n) => n.runId === id && n.seq === 1 && n.event === "ran")).toHaveLength(
        1,
      );
    }
    // A drain spends no attempt.
    for (const r of attemptsBefore) expect(rows.get(r.id)?.attempt).toBe(r.attempt);
    expect(second.child.exitCode).toBeNull();
  });
});
