import type { Db } from "./db.js";
import { migrate } from "./migrate.js";
import { PgliteDb } from "./pglite.js";
import { PostgresDb } from "./postgres.js";
import { withDbRetry } from "./retry.js";

export interface OpenStoreOptions {
  /** PostgreSQL connection string; without one the embedded PGlite store is used. */
  databaseUrl?: string | undefined;
  /** PGlite data folder; `memory` keeps it in memory. */
  dataDir?: string;
  poolSize?: number;
  migrate?: boolean;
}

/** Opens the store named by the options and brings its schema up to date. */
export async function openStore(opts: OpenStoreOptions): Promise<Db> {
  const db: Db = opts.databaseUrl
    ? new PostgresDb({
        connectionString: opts.databaseUrl,
        ...(opts.poolSize ? { max: opts.poolSize } : {}),
      })
    : await PgliteDb.open(
        opts.dataDir === "memory" ? undefined : (opts.dataDir ?? ".outlast/data"),
      );
  if (opts.migrate !== false) {
    try {
      await withDbRetry(() => migrate(db), { maxElapsedMs: 30_000 });
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
  }
  return db;
}
