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

const CONFIG = "test/fixtures/lease.config.ts";

interface Note {
  role: string;
  event: string;
  runId: string;
  seq: number;
}

function readNotes(dir: string): Note[] {
  return readFields(join(dir, "ledger")).map(([role, event, runId, seq]) => ({
    role: role!,
    event: event!,
    runId: runId!,
    seq: Number(seq),
  }));
}

describe("crash: a worker that loses its runs while alive (SIGSTOP past the lease) on PostgreSQL", () => {
  const suite = processSuite();

  it("is fenced out: its late journal write is refused, it stops, and the run finishes once on the other worker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-lease-"));
    const env = { DATABASE_URL: suite.url, OUTLAST_TEST_DIR: dir };
    const repo = new Repo(suite.db);
    const has = (role: string, event: string, runId: string, seq: number) =>
      readNotes(dir).some(
        (n) => n.role === role && n.event === event && n.runId === runId && n.seq === seq,
      );
    const start = async (role: string): Promise<CliProcess> => {
      const p = spawnCli(["worker", "--config", CONFIG], { ...env, OUTLAST_TEST_ROLE: role });
      suite.procs.push(p);
      await p.waitFor(/worker started/);
      return p;
    };

    // The first worker takes both runs: `watchful` waits (asynchronously) inside its step,
    // `fenced` hangs inside step 4 with its event loop held.
    const watchful = uuidv7();
    const fenced = uuidv7();
    await repo.insertRuns([
      {
        id: watchful,
        project: "default",
        agent: "watchful",
        queue: "default",
        input: {},
        maxAttempts: 1,
      },
    ]);
    const first = await start("first");
    await until(() => has("first", "entered", watchful, 1), 30_000, "watchful to start");
    await repo.insertRuns([
      {
        id: fenced,
        project: "default",
        agent: "fenced",
        queue: "default",
        input: {},
        maxAttempts: 1,
      },
    ]);
    await until(() => has("first", "entered", fenced, 4), 30_000, "fenced to reach step 4");

    // Frozen past its 2 s lease: the second worker reaps it and takes both runs over.
    first.child.kill("SIGSTOP");
    const second = await start("second");
    const stepRow = async (seq: number) =>
      (
        await suite.db.query<{ status: string; output: unknown; current: boolean }>(
          `SELECT s.status, s.output, s.lease_token = r.lease_token AS current
           FROM outlast.steps s JOIN outlast.runs r ON r.id = s.run_id
           WHERE s.run_id = $1 AND s.seq = $2`,
          [fenced, seq],
        )
      )[0];
    await until(
      async () => (await stepRow(4))?.status === "running" && (await stepRow(4))?.current === true,
      30_000,
      "the second worker to execute step 4 of the fenced run",
    );
    await until(
      async () => (await repo.getRun(watchful))?.status === "succeeded",
      30_000,
      "the second worker to finish the watchful run",
    );

    // Let the first worker go: its step 4 ends at once, before any timer of its own runs.
    writeFileSync(join(dir, "release"), "");
    first.child.kill("SIGCONT");

    // Its journal write of step 4 is refused (the run's lease token is the second
    // worker's), so step 4 throws in the agent and it goes no further.
    await until(
      () => has("first", "threw:OUTLAST_LEASE_LOST", fenced, 4),
      20_000,
      "the first worker's step 4 to be refused",
    );
    expect(has("first", "ran", fenced, 4)).toBe(true);
    const row4 = await stepRow(4);
    expect(row4).toMatchObject({ status: "running", current: true });
    // The heartbeat finds the worker declared dead: every run it held is aborted, so the
    // step still waiting in `watchful` sees its signal fire.
    await until(
      () => has("first", "aborted", watchful, 1),
      20_000,
      "the first worker to abort the step it lost",
    );

    // The second worker finishes the run.
    writeFileSync(join(dir, "go"), "");
    await until(
      async () => (await repo.getRun(fenced))?.status === "succeeded",
      30_000,
      "the fenced run to succeed",
    );
    const run = await repo.getRun(fenced);
    expect(run?.output).toEqual(["first", "first", "first", "second", "second"]);
    expect((await repo.getRun(watchful))?.output).toBe("second");
    const claims = await suite.db.query<{ claims: number }>(
      "SELECT claims FROM outlast.runs WHERE id = $1",
      [fenced],
    );
    expect(claims[0]?.claims).toBe(2);

    // Every step recorded once: one row each, one step.finished event each, one end.
    const steps = await suite.db.query<{ seq: number; status: string; output: unknown }>(
      "SELECT seq, status, output FROM outlast.steps WHERE run_id = $1 ORDER BY seq",
      [fenced],
    );
    expect(steps).toEqual(
      ["first", "first", "first", "second", "second"].map((output, i) => ({
        seq: i + 1,
        status: "succeeded",
        output,
      })),
    );
    const events = await suite.db.query<{ type: string; step: number | null; n: number }>(
      `SELECT type, (data->>'seq')::int AS step, count(*)::int AS n FROM outlast.events
       WHERE run_id = $1 AND type IN ('step.finished', 'run.succeeded') GROUP BY 1, 2 ORDER BY 1, 2`,
      [fenced],
    );
    expect(events).toEqual([
      { type: "run.succeeded", step: null, n: 1 },
      ...[1, 2, 3, 4, 5].map((step) => ({ type: "step.finished", step, n: 1 })),
    ]);
    // The first worker never went past the step it lost.
    const firstNotes = readNotes(dir).filter((n) => n.role === "first" && n.runId === fenced);
    expect(firstNotes.every((n) => n.seq <= 4)).toBe(true);
    expect(second.child.exitCode).toBeNull();
  });
});
