/**
 * Upgrade safety: runs that an older release left waiting (a sleep, a signal, a sleep after
 * a retried attempt) finish on today's code, from a PGlite data folder and a PostgreSQL
 * database that release wrote (test/fixtures/upgrade, made by generate.ts there). Their
 * recorded version is the one that release gave every agent; migration 010 turns their
 * attempt counts into attempts begun.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { LEGACY_SHARED_VERSIONS } from "../../src/engine/versions.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { upgradeAgents } from "../fixtures/upgrade/agents.js";
import { freshDatabaseUrl } from "../helpers/db.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/upgrade");
const RELEASE = "bd594cb";
const agents = upgradeAgents(defineAgent);

describe.each(["pglite", "postgres"] as const)("runs waiting on %s from %s", (backend) => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function openOldStore(): Promise<Db> {
    if (backend === "pglite") {
      const dir = mkdtempSync(join(tmpdir(), "outlast-upgrade-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      execFileSync("tar", ["xzf", join(FIXTURES, `pglite-${RELEASE}.tar.gz`), "-C", dir]);
      return openStore({ dataDir: dir });
    }
    const { url, drop } = await freshDatabaseUrl();
    cleanup.push(drop);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(readFileSync(join(FIXTURES, `postgres-${RELEASE}.sql`), "utf8"));
    await client.end();
    return openStore({ databaseUrl: url });
  }

  it("finish after the upgrade, every step recorded once", async () => {
    const db = await openOldStore();
    cleanup.push(() => db.close());
    const service = new RunService(db, agents);
    await service.start();
    cleanup.push(() => service.stop());

    const before = (await service.list({})).runs;
    expect(before.map((r) => [r.agent, r.status]).sort()).toEqual([
      ["upgrade-approval", "waiting"],
      ["upgrade-retried", "waiting"],
      ["upgrade-sleeper", "waiting"],
    ]);
    for (const r of before) expect(LEGACY_SHARED_VERSIONS.has(r.agent_version ?? "")).toBe(true);
    const id = (agent: string) => before.find((r) => r.agent === agent)?.id as string;
    // Migration 010: attempts begun, not attempts failed.
    expect((await service.get(id("upgrade-retried"))).attempt).toBe(2);
    expect((await service.get(id("upgrade-sleeper"))).attempt).toBe(1);

    const worker = new Worker({ db, agents, pollIntervalMs: 50 });
    await worker.start();
    cleanup.push(() => worker.stop(1_000));
    await service.signal(id("upgrade-approval"), "approval", { approved: true });

    const outputs: Record<string, unknown> = {
      "upgrade-sleeper": { a: "a", b: "b" },
      "upgrade-approval": { a: "a", b: "b", approved: true },
      "upgrade-retried": { a: "a", b: "b" },
    };
    for (const [agent, output] of Object.entries(outputs)) {
      const { run, finished } = await service.waitFor(id(agent), 15_000);
      expect(finished, `${agent} finished (it is ${run.status}: ${run.error?.message})`).toBe(true);
      expect(run.status).toBe("succeeded");
      expect(run.output).toEqual(output);
      expect(run.attempt).toBe(agent === "upgrade-retried" ? 2 : 1);
      expect(run.attempt).toBeLessThanOrEqual(run.max_attempts);
      const steps = await service.steps(id(agent));
      const names = steps.map((s) => s.name);
      expect(names.filter((n) => n === "a")).toHaveLength(1);
      expect(names.filter((n) => n === "b")).toHaveLength(1);
    }
  });
});
