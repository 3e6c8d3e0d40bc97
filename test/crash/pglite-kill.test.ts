import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OutlastClient } from "../../src/client/client.js";
import { type CliProcess, readLedger, spawnCli, until } from "../helpers/processes.js";

const CONFIG = "test/fixtures/ledger.config.ts";

describe("crash: SIGKILL `outlast dev` on PGlite", () => {
  const procs: CliProcess[] = [];

  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
  });

  async function startDev(env: Record<string, string | undefined>): Promise<OutlastClient> {
    const dev = spawnCli(["dev", "--config", CONFIG, "--port", "0"], env);
    procs.push(dev);
    const line = await dev.waitFor(/running at http:\/\/\S+/, 60_000);
    return new OutlastClient({ url: line.replace("running at ", "") });
  }

  it("reopens the data folder and finishes every run without repeating completed steps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-pglite-"));
    const ledger = join(dir, "ledger");
    const env = {
      DATABASE_URL: undefined,
      OUTLAST_DATA_DIR: join(dir, "data"),
      OUTLAST_TEST_LEDGER: ledger,
    };

    const first = await startDev(env);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await first.submit({ agent: "thirty-steps", input: {} })).id);
    await until(() => readLedger(ledger).length >= 40, 30_000, "steps to run before the kill");
    const dev = procs[0]!;
    dev.child.kill("SIGKILL");
    await dev.exited;
    const beforeRestart = readLedger(ledger);

    const second = await startDev(env);
    await until(
      async () =>
        (await Promise.all(ids.map((id) => second.get(id)))).every((r) => r.status === "succeeded"),
      60_000,
      "every run to finish after the restart",
    );
    const lines = readLedger(ledger);
    expect(lines.length).toBeGreaterThan(beforeRestart.length);
    for (const id of ids) {
      const seqs = lines.filter((l) => l.runId === id).map((l) => l.seq);
      expect(new Set(seqs).size).toBe(30);
      // Only a step in flight at the kill may have run twice.
      expect(seqs.length - new Set(seqs).size).toBeLessThanOrEqual(1);
      expect((await second.get(id)).output).toEqual({ sum: 465 });
    }
    // Two starts of `outlast dev` (the first runs initdb) and the runs: 38–49 s on a loaded
    // machine, past vitest's 60 s default once; the waits inside bound each part.
  }, 180_000);
});
