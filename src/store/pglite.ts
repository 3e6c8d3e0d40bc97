import { mkdirSync, readdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { Db, Queryable, SessionLock } from "./db.js";
import { lockDataDir } from "./dir-lock.js";
import { hasDatabase, initDataDirInChild } from "./pglite-initdb.js";
import { PGLITE_START_PARAMS } from "./pglite-settings.js";

/**
 * Embedded PostgreSQL (WASM) persisted to a folder. One process owns the folder, so
 * liveness needs no advisory lock: any run still leased at start-up belonged to a process
 * that is gone.
 *
 * PGlite writes through to the file system but never calls fsync: a killed process loses
 * nothing, a power cut can. Production runs on PostgreSQL.
 */
export class PgliteDb implements Db {
  readonly kind = "pglite" as const;

  private constructor(
    private readonly pg: PGlite,
    private readonly unlock: () => void,
  ) {}

  /**
   * `dataDir` undefined keeps the database in memory (tests). An empty data folder gets
   * its database from a short-lived child process (pglite-initdb.ts), which keeps initdb's
   * memory out of this one.
   */
  static async open(dataDir?: string): Promise<PgliteDb> {
    const startParams = [...PGLITE_START_PARAMS];
    if (!dataDir) return new PgliteDb(await PGlite.create({ startParams }), () => {});
    mkdirSync(dataDir, { recursive: true });
    const unlock = lockDataDir(dataDir);
    try {
      if (!hasDatabase(dataDir) && readdirSync(dataDir).length === 0) {
        await initDataDirInChild(dataDir);
      }
      return new PgliteDb(await PGlite.create({ dataDir, startParams }), unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  async query<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    const res = await this.pg.query<R>(sql, params as unknown[] | undefined);
    return res.rows;
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (tx) =>
      fn({
        query: async <R>(sql: string, params?: readonly unknown[]) =>
          (await tx.query<R>(sql, params as unknown[] | undefined)).rows,
        exec: async (sql: string) => {
          await tx.exec(sql);
        },
      }),
    );
  }

  async listen(
    channel: string,
    onMessage: (payload: string) => void,
  ): Promise<() => Promise<void>> {
    return this.pg.listen(channel, onMessage);
  }

  async tryHoldSessionLock(): Promise<SessionLock | null> {
    return null;
  }

  async close(): Promise<void> {
    await this.pg.close();
    this.unlock();
  }
}
