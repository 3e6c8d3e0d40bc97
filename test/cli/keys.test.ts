/**
 * `outlast keys create|list|revoke` on the database directly: the first admin key of a
 * project is made without any key, printed once, stored hashed; list never prints a
 * secret; revoke ends it and writes the audit log as `cli`.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { sha256Hex } from "../../src/auth/tokens.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { spawnCli } from "../helpers/processes.js";

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

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnCli(["keys", ...args, "-c", CONFIG], {
    DATABASE_URL: url,
    OUTLAST_LOG_LEVEL: "warn",
  });
  const code = await p.exited;
  return { code, out: p.output() };
}

it("makes, lists and revokes a project's keys", async () => {
  const made = await cli([
    "create",
    "--project",
    "team-a",
    "--role",
    "admin",
    "--name",
    "first",
    "--json",
  ]);
  expect(made.code, made.out).toBe(0);
  const { id, key, project, role } = JSON.parse(made.out.trim().split("\n").at(-1)!) as Record<
    string,
    string
  >;
  expect({ project, role }).toEqual({ project: "team-a", role: "admin" });
  expect(key).toMatch(new RegExp(`^olk_${id}_`));
  const [row] = await db.query<{ secret_hash: string }>(
    "SELECT secret_hash FROM outlast.api_keys WHERE id = $1",
    [id],
  );
  expect(row?.secret_hash).toBe(sha256Hex(key!.slice(17)));

  const listed = await cli(["list", "--project", "team-a"]);
  expect(listed.code).toBe(0);
  expect(listed.out).toContain(id);
  expect(listed.out).toContain("live");
  expect(listed.out).not.toContain(key!.slice(17));
  expect((await cli(["list", "--project", "default"])).out).not.toContain(id);

  expect((await cli(["revoke", id!, "--project", "default"])).code).toBe(1);
  const revoked = await cli(["revoke", id!, "--project", "team-a"]);
  expect(revoked.code, revoked.out).toBe(0);
  expect((await cli(["list", "--project", "team-a"])).out).toContain("revoked");
  const audit = await db.query<{ action: string; actor: string }>(
    "SELECT action, actor FROM outlast.audit_log WHERE project = 'team-a' ORDER BY id",
  );
  expect(audit).toEqual([
    { action: "key.create", actor: "cli" },
    { action: "key.revoke", actor: "cli" },
  ]);
  expect((await cli(["create", "--role", "owner"])).code).toBe(1);
}, 120_000);
