/**
 * A revoked key is refused by every process within a second (issue 20): two `outlast
 * serve` processes on one PostgreSQL database, the key revoked through one and polled on
 * the other. In-process, each of the two ways a process hears of it is checked alone:
 * NOTIFY (with the poll an hour apart) and the poll (with no LISTEN).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialStore } from "../../src/auth/credentials.js";
import { createKey, revokeKey } from "../../src/auth/keys.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { type CliProcess, spawnCli } from "../helpers/processes.js";

const BOOT = "sk-revocation-0123456789abcdef";
const CONFIG = "test/fixtures/cli.config.ts";

let url: string;
let drop: () => Promise<void>;
let db: Db;

beforeAll(async () => {
  ({ url, drop } = await freshDatabaseUrl());
  db = await openStore({ databaseUrl: url });
});
afterAll(async () => {
  await db?.close();
  await drop?.();
});

/** How long until `refused()` holds, polled every 10 ms; fails past `limitMs`. */
async function msUntil(
  refused: () => Promise<boolean> | boolean,
  limitMs: number,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await refused()) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("one process", () => {
  it.each([
    ["NOTIFY alone (poll an hour apart)", { pollMs: 3_600_000 }, 250],
    ["the poll alone (no LISTEN)", { listen: false, pollMs: 500 }, 1_000],
  ])("hears of a revocation by %s", async (_, opts, limitMs) => {
    // A second connection pool stands for another process's writes.
    const other = await openStore({ databaseUrl: url });
    const store = new CredentialStore({ db, ...opts });
    await store.start();
    try {
      const { token, row } = await createKey(other, {
        project: "default",
        role: "read",
        name: "k",
        actor: "cli",
      });
      expect(await msUntil(() => store.resolve(token) !== undefined, limitMs)).toBeLessThan(
        limitMs,
      );
      await revokeKey(other, "default", row.id, "cli");
      const ms = await msUntil(() => store.resolve(token) === undefined, limitMs * 2);
      expect(ms).toBeLessThan(limitMs);
    } finally {
      await store.close();
      await other.close();
    }
  });
});

describe("two API processes on PostgreSQL", () => {
  const procs: CliProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.exited));
  });

  it("refuse a key revoked through one of them within a second", async () => {
    const env = { DATABASE_URL: url, OUTLAST_API_KEY: BOOT, OUTLAST_LOG_LEVEL: "info" };
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const serve = spawnCli(["serve", "-c", CONFIG, "--port", "0", "--host", "127.0.0.1"], env);
      procs.push(serve);
    }
    for (const p of procs) {
      urls.push(
        (await p.waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/, 60_000)).replace(
          "listening at ",
          "",
        ),
      );
    }
    const [a, b] = urls as [string, string];
    const made = await fetch(`${a}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${BOOT}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "shared", role: "read" }),
    });
    expect(made.status).toBe(201);
    const { key, id } = (await made.json()) as { key: string; id: string };
    const statusOn = async (base: string) =>
      (await fetch(`${base}/v1/runs`, { headers: { authorization: `Bearer ${key}` } })).status;
    // B learns of the new key the same way.
    expect(await msUntil(async () => (await statusOn(b)) === 200, 1_000)).toBeLessThan(1_000);

    const revoked = await fetch(`${a}/v1/keys/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${BOOT}` },
    });
    expect(revoked.status).toBe(200);
    const ms = await msUntil(async () => (await statusOn(b)) === 401, 2_000);
    process.stdout.write(`revoked key refused by the other process after ${ms.toFixed(0)} ms\n`);
    expect(ms).toBeLessThan(1_000);
    expect(await statusOn(a)).toBe(401);
  }, 120_000);
});
