import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { withDbRetry } from "../../src/store/retry.js";
import { child, parent, sleeper, steps, waiter } from "../fixtures/chaos.config.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { type CliProcess, spawnCli, until } from "../helpers/processes.js";

/**
 * Chaos: 200 runs mixing 30-step runs, sleeps, signals and child runs on 3 worker
 * processes; a random worker is SIGKILLed and restarted every 2–5 s for a minute, and
 * PostgreSQL itself is restarted once in the middle. Every run must reach its expected
 * final state and output, and the external ledger must have applied every step's
 * idempotency key exactly once.
 */
const CHAOS_MS = Number(process.env.OUTLAST_CHAOS_MS ?? 60_000);
const CONFIG = "test/fixtures/chaos.config.ts";

function restartPostgres(): void {
  const version = readdirSync("/etc/postgresql")[0];
  if (!version) throw new Error("no PostgreSQL cluster found in /etc/postgresql");
  execFileSync(
    "pg_ctlcluster",
    ["--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
    {
      stdio: "inherit",
    },
  );
}

describe("chaos: killed workers and a PostgreSQL restart", () => {
  let url: string;
  let drop: () => Promise<void>;
  let db: Db;
  let ledger: Server;
  const applied = new Map<string, string>();
  let repeats = 0;
  const workers: CliProcess[] = [];

  beforeAll(async () => {
    ({ url, drop } = await freshDatabaseUrl());
    db = await openStore({ databaseUrl: url });
    ledger = createServer((req, res) => {
      const key = String(req.headers["idempotency-key"] ?? "");
      let receipt = applied.get(key);
      if (receipt) repeats++;
      else {
        receipt = `r${applied.size + 1}`;
        applied.set(key, receipt);
      }
      req.resume();
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ receipt }));
    });
    await new Promise<void>((r) => ledger.listen(0, "127.0.0.1", r));
  });

  afterAll(async () => {
    for (const w of workers) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    ledger?.close();
    await db?.close();
    await drop?.();
  });

  it("every run ends as expected and every side effect applies once", async () => {
    const env = {
      DATABASE_URL: url,
      OUTLAST_CHAOS_LEDGER: `http://127.0.0.1:${(ledger.address() as AddressInfo).port}`,
      // info: the workers' "worker started" line tells a kill of a running worker from one
      // of a worker still starting (at warn it never came, and no kill counted as live).
      OUTLAST_LOG_LEVEL: "info",
    };
    const service = new RunService(db, [steps, sleeper, waiter, child, parent]);
    await service.start();
    const expected = new Map<string, unknown>();
    const submit = async (agent: string, input: unknown, output: unknown) => {
      const { run } = await service.submit({ agent, input });
      expected.set(run.id, output);
      return run.id;
    };
    const signalled = new Set<string>();
    const waiters: string[] = [];
    // Submitted over the first half of the chaos, so kills and the restart hit runs at
    // every stage: queued, mid-steps, sleeping, waiting for signals and for children.
    const submitAll = async () => {
      for (let i = 0; i < 200; i++) {
        const kind = i % 5;
        await withDbRetry(
          async () => {
            if (kind <= 1) await submit("chaos-steps", null, { steps: 30 });
            else if (kind === 2)
              await submit(
                "chaos-sleeper",
                { ms: 1_000 + (i % 7) * 1_000 },
                { slept: 1_000 + (i % 7) * 1_000 },
              );
            else if (kind === 3) waiters.push(await submit("chaos-signal", null, null));
            else await submit("chaos-parent", null, { sum: 60 });
          },
          { maxElapsedMs: 60_000 },
        );
        await new Promise((r) => setTimeout(r, CHAOS_MS / 2 / 200));
      }
    };

    const start = (slot: number) => {
      workers[slot] = spawnCli(["worker", "--config", CONFIG], env);
    };
    for (let s = 0; s < 3; s++) start(s);
    await Promise.all(workers.map((w) => w.waitFor(/worker started/, 60_000).catch(() => {})));

    // Signals: sent by the test while runs wait (some before the run reaches its wait).
    let stopSignals = false;
    const signaller = (async () => {
      while (!stopSignals) {
        for (const [i, id] of waiters.entries()) {
          if (signalled.has(id)) continue;
          const value = 3 + 5 * i;
          try {
            // Half get their signal at once (before the run reaches its wait: it is kept),
            // half only once the run is parked waiting for it.
            if (i % 2 === 1 && (await service.get(id)).status !== "waiting") continue;
            await service.signal(id, "go", { value });
            signalled.add(id);
          } catch {
            // the database is restarting; try again
          }
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const submitting = submitAll();
    const began = Date.now();
    let kills = 0;
    /** Kills of a worker that had started (a restarted one takes seconds to come up). */
    let liveKills = 0;
    let pgRestarted = false;
    while (Date.now() - began < CHAOS_MS) {
      await new Promise((r) => setTimeout(r, 2_000 + Math.random() * 3_000));
      if (!pgRestarted && Date.now() - began > CHAOS_MS / 2) {
        restartPostgres();
        pgRestarted = true;
        continue;
      }
      const slot = Math.floor(Math.random() * 3);
      const victim = workers[slot]!;
      const wasUp = victim.child.exitCode === null && /worker started/.test(victim.output());
      victim.child.kill("SIGKILL");
      await victim.exited;
      kills++;
      if (wasUp && victim.child.signalCode === "SIGKILL") liveKills++;
      start(slot);
    }
    expect(pgRestarted).toBe(true);
    // A round every 2–5 s, one of them restarting PostgreSQL instead (and taking longer).
    expect(kills).toBeGreaterThanOrEqual(Math.floor(CHAOS_MS / 5_000) - 2);
    // Some land on a worker still starting (tsx takes seconds on a loaded machine); at
    // least a third of the fewest rounds possible must hit a worker that was running.
    expect(liveKills).toBeGreaterThanOrEqual(Math.floor(CHAOS_MS / 5_000 / 3));
    await submitting;
    const chaosEnded = Date.now();

    const terminal = async () =>
      withDbRetry(
        async () =>
          (
            await db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM outlast.runs WHERE status NOT IN ('succeeded', 'failed', 'cancelled')",
            )
          )[0]!.n === 0,
      );
    await until(terminal, 180_000, "every run to finish after the chaos");
    const drainedMs = Date.now() - chaosEnded;
    stopSignals = true;
    await signaller;
    await service.stop();

    const rows = await db.query<{
      id: string;
      agent: string;
      status: string;
      output: unknown;
      error: unknown;
    }>("SELECT id, agent, status, output, error FROM outlast.runs");
    // The submitted signal runs expect the value the test sent them.
    for (const id of waiters) expected.set(id, { value: 3 + 5 * waiters.indexOf(id) });
    for (const [id, output] of expected) {
      const row = rows.find((r) => r.id === id)!;
      expect({ id, status: row.status, output: row.output, error: row.error }).toEqual({
        id,
        status: "succeeded",
        output,
        error: null,
      });
    }
    expect(rows.filter((r) => r.agent === "chaos-child" && r.status === "succeeded")).toHaveLength(
      120,
    );

    // Every journaled step applied its key exactly once, and recorded that one receipt.
    const journal = await db.query<{ run_id: string; seq: number; output: string }>(
      "SELECT run_id, seq, output FROM outlast.steps WHERE kind = 'step'",
    );
    const keys = new Set(journal.map((s) => `${s.run_id}:${s.seq}`));
    expect(keys.size).toBe(80 * 30 + 40 * 2 + 40 * 2 + 40 + 120);
    expect([...applied.keys()].sort()).toEqual([...keys].sort());
    for (const s of journal) expect(s.output).toBe(applied.get(`${s.run_id}:${s.seq}`));
    console.log(
      `chaos: ${kills} worker kills (${liveKills} of a started worker), PostgreSQL restarted once, ${applied.size} side effects applied once each, ${repeats} repeated calls absorbed by idempotency keys; all runs done ${drainedMs} ms after the chaos ended`,
    );
  }, 300_000);
});
