import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";

export const PG_ADMIN_URL =
  process.env.OUTLAST_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export type Backend = "pglite" | "postgres";
export const BACKENDS: Backend[] = ["pglite", "postgres"];

/** A fresh, migrated database: in-memory PGlite, or a new PostgreSQL database dropped on close. */
export async function freshDatabaseUrl(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `outlast_t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

let sharedPglite: Promise<Db> | undefined;

export async function openTestDb(
  backend: Backend,
): Promise<{ db: Db; url?: string; close: () => Promise<void> }> {
  if (backend === "pglite") {
    // Starting PGlite (WASM) and migrating costs ~3 s; one instance per test file, emptied
    // between tests, keeps the suite fast.
    sharedPglite ??= openStore({ dataDir: "memory" });
    const db = await sharedPglite;
    return {
      db,
      close: () =>
        db.exec(
          "TRUNCATE outlast.runs, outlast.steps, outlast.workers, outlast.threads, outlast.thread_messages, outlast.thread_entries, outlast.thread_versions CASCADE",
        ),
    };
  }
  const { url, drop } = await freshDatabaseUrl();
  const db = await openStore({ databaseUrl: url });
  return {
    db,
    url,
    close: async () => {
      await db.close();
      await drop();
    },
  };
}
