import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Db, LOCK_NAMESPACE } from "./db.js";

/** The same relative path from src/store and dist/store. */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../migrations");

interface Migration {
  id: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      id: Number.parseInt(file.slice(0, 3), 10),
      name: file.replace(/\.sql$/, ""),
      sql: readFileSync(join(dir, file), "utf8"),
    }));
}

const MIGRATION_LOCK_KEY = 1;

/**
 * Applies the numbered migrations that are missing, all in one transaction under an
 * advisory transaction lock, so processes starting together wait for the first one
 * instead of racing on CREATE TABLE. Returns the names applied.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [
      LOCK_NAMESPACE,
      MIGRATION_LOCK_KEY,
    ]);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS outlast;
      CREATE TABLE IF NOT EXISTS outlast.migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );`);
    const done = new Set(
      (await tx.query<{ id: number }>("SELECT id FROM outlast.migrations")).map((r) => r.id),
    );
    const latestKnown = migrations.at(-1)?.id ?? 0;
    const newest = Math.max(0, ...done);
    if (newest > latestKnown) {
      throw new Error(
        `database schema is at migration ${newest}, newer than this Outlast (${latestKnown}); upgrade Outlast`,
      );
    }
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      // Ledger row first, as graphile-worker does: a concurrent starter that somehow got
      // past the lock fails on the primary key instead of applying twice.
      await tx.query("INSERT INTO outlast.migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      await tx.exec(m.sql);
      applied.push(m.name);
    }
    return applied;
  });
}
