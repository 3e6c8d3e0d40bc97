/**
 * PostgreSQL helpers for the adapters: a fresh database per round (test/helpers/db.ts),
 * and a count of the statements this process sends through node-postgres — every
 * PostgreSQL-backed system here (Outlast, graphile-worker, pg-boss, DBOS, LangGraph's
 * saver) uses the one installed `pg`, so its `Client.prototype.query` sees them all.
 * Statements per job is the figure that explains most of the throughput differences.
 * (The server's `pg_stat_database.xact_commit` was tried first and rejected: each NOTIFY
 * delivered to a listening session is a transaction there too — 100 NOTIFYs to 2
 * listeners counted 302 commits — so it over-counts every system that LISTENs.)
 */
import pg from "pg";
import { freshDatabaseUrl } from "../../test/helpers/db.js";

let sent = 0;
const original = pg.Client.prototype.query;
// biome-ignore lint/suspicious/noExplicitAny: wraps every overload of Client#query
(pg.Client.prototype as any).query = function (this: pg.Client, ...args: unknown[]) {
  sent++;
  return (original as (...a: unknown[]) => unknown).apply(this, args);
};

/** Statements sent through node-postgres by this process so far. */
export const statementsSent = (): number => sent;

export async function freshDb(): Promise<{ url: string; drop: () => Promise<void> }> {
  return freshDatabaseUrl();
}
