import type { Command } from "commander";
import type { KeyRow } from "../../auth/credentials.js";
import { createKey, listKeys, revokeKey } from "../../auth/keys.js";
import { openStore } from "../../store/open.js";
import { DEFAULT_PROJECT, ROLES, type Role } from "../../types/index.js";
import { CliError } from "../errors.js";
import { loadCliConfig } from "../load.js";

interface DbOptions {
  config?: string;
  project: string;
}

/** The config's database (DATABASE_URL or the PGlite folder), opened for one command. */
async function withDb<T>(
  o: DbOptions,
  fn: (db: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const config = await loadCliConfig(o.config, true);
  const db = await openStore({
    databaseUrl: config.database.url,
    dataDir: config.database.dataDir,
  });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function iso(d: Date | string | null): string {
  return d === null ? "-" : new Date(d).toISOString();
}

/** The table people read; exported for tests. */
export function formatKeys(rows: KeyRow[], now = Date.now()): string {
  if (rows.length === 0) return "no keys\n";
  const state = (r: KeyRow) =>
    r.revoked_at !== null
      ? "revoked"
      : r.expires_at !== null && new Date(r.expires_at).getTime() <= now
        ? "expired"
        : "live";
  const cells = rows.map((r) => [
    r.id,
    r.prefix,
    r.role,
    r.source,
    state(r),
    r.name,
    iso(r.expires_at),
  ]);
  const head = ["id", "prefix", "role", "source", "state", "name", "expires"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...cells.map(line)].join("\n")}\n`;
}

/**
 * `outlast keys create|list|revoke`: a project's API keys, on the database itself (the
 * config's DATABASE_URL or PGlite folder), so the first admin key of a project can be
 * made before any key exists. The audit log names the actor `cli`. Over HTTP, the same
 * is POST/GET/DELETE /v1/keys with an admin key.
 *
 * @example
 * outlast keys create --project team-a --role admin --name "team-a admin"
 */
export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("make, list and revoke a project's API keys (on the database directly)");
  const common = (c: Command) =>
    c
      .option("-c, --config <file>", "config file (its database is used)")
      .option("--project <name>", "the project", DEFAULT_PROJECT);

  common(keys.command("create"))
    .description("make a key; it is printed once, and only its SHA-256 is kept")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--name <name>", "what the key is for", "cli")
    .option("--expires <instant>", "ISO 8601 instant after which the key is refused")
    .option("--json", "print the JSON answer")
    .action(
      async (o: DbOptions & { role: string; name: string; expires?: string; json?: boolean }) => {
        if (!(ROLES as readonly string[]).includes(o.role)) {
          throw new CliError(`--role must be one of ${ROLES.join(", ")}, got "${o.role}"`);
        }
        let expiresAt: Date | undefined;
        if (o.expires !== undefined) {
          expiresAt = new Date(o.expires);
          if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) {
            throw new CliError(`--expires must be a future ISO 8601 instant, got "${o.expires}"`);
          }
        }
        const { token, row } = await withDb(o, (db) =>
          createKey(db, {
            project: o.project,
            role: o.role as Role,
            name: o.name,
            expiresAt,
            actor: "cli",
          }),
        );
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ id: row.id, prefix: row.prefix, project: row.project, role: row.role, key: token })}\n`
            : `${token}\n(id ${row.id}, project ${row.project}, role ${row.role}: store the key now; it is not shown again)\n`,
        );
      },
    );

  common(keys.command("list"))
    .description("the project's keys (never their secrets)")
    .option("--json", "print JSON")
    .action(async (o: DbOptions & { json?: boolean }) => {
      const rows = await withDb(o, (db) => listKeys(db, o.project, { limit: 1000 }));
      process.stdout.write(
        o.json
          ? `${JSON.stringify(
              rows.map(({ secret_hash: _, ...r }) => r),
              null,
              2,
            )}\n`
          : formatKeys(rows),
      );
    });

  common(keys.command("revoke"))
    .description("revoke a key: every API process refuses it within a second")
    .argument("<id>", "the key's id (keys list)")
    .action(async (id: string, o: DbOptions) => {
      const out = await withDb(o, (db) => revokeKey(db, o.project, id, "cli"));
      if (out.kind === "not_found") throw new CliError(`no key ${id} in project ${o.project}`);
      if (out.kind === "read_only") {
        throw new CliError(`key ${id} comes from config.gateway.keys; remove it from the config`);
      }
      process.stdout.write(`revoked ${id}\n`);
    });
}
