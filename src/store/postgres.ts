import { createHash } from "node:crypto";
import pg from "pg";
import type { Db, Queryable, SessionLock } from "./db.js";
import { PgListener } from "./pg-listener.js";

// timestamptz and jsonb arrive parsed; int8 (counts) stays a string unless cast in SQL,
// so statements cast counts to int.

export interface PostgresOptions {
  connectionString: string;
  /** Pool size. Workers batch their writes, so a handful of connections serves many runs. */
  max?: number;
  applicationName?: string;
}

/**
 * Statements go out as named prepared statements: each connection parses and plans a
 * statement once and reuses the plan; `plan_cache_mode=force_generic_plan` makes it skip
 * the five custom plans PostgreSQL otherwise makes first (A/B here, alternating, journal
 * write 1.07 vs 1.25 ms, insert 1.26 vs 3.3 ms on a loaded machine). Measured here: a trivial statement costs 0.19 ms
 * named vs 0.39 ms unnamed, and planning the journal write's CTE alone took ~2 ms, which
 * named statements pay once per connection instead of once per step.
 */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `outlast_${createHash("sha1").update(sql).digest("hex").slice(0, 16)}`;
    statementNames.set(sql, name);
  }
  return name;
}

class PgQueryable implements Queryable {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}

  async query<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    const res = await this.client.query({
      name: statementName(sql),
      text: sql,
      values: params as unknown[] | undefined,
    });
    return res.rows as R[];
  }

  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
}

export class PostgresDb extends PgQueryable implements Db {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly closers = new Set<() => Promise<void>>();
  private readonly listener = new PgListener(() => this.newClient());

  constructor(private readonly opts: PostgresOptions) {
    const pool = new pg.Pool({
      connectionString: opts.connectionString,
      max: opts.max ?? 10,
      application_name: opts.applicationName ?? "outlast",
      connectionTimeoutMillis: 5_000,
      options: "-c plan_cache_mode=force_generic_plan",
    });
    super(pool);
    this.pool = pool;
    // An idle client that loses its connection emits here; without a listener the
    // process would crash on a database restart. The pool discards the client.
    pool.on("error", () => {});
  }

  poolStats(): { total: number; idle: number; waiting: number } {
    const p = this.pool;
    return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount };
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(new PgQueryable(client));
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      client.release(err instanceof Error ? err : undefined);
      throw err;
    }
  }

  private newClient(): pg.Client {
    const client = new pg.Client({
      connectionString: this.opts.connectionString,
      application_name: this.opts.applicationName ?? "outlast",
      connectionTimeoutMillis: 5_000,
    });
    return client;
  }

  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<() => Promise<void>> {
    return this.listener.subscribe(channel, { onMessage, onReconnect });
  }

  async tryHoldSessionLock(namespace: number, key: number): Promise<SessionLock | null> {
    const client = this.newClient();
    let resolveLost!: (err: Error) => void;
    const lost = new Promise<Error>((r) => {
      resolveLost = r;
    });
    client.on("error", (err) => resolveLost(err));
    client.on("end", () => resolveLost(new Error("advisory lock session ended")));
    await client.connect();
    const rows = await client.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_lock($1::int, $2::int) AS ok",
      [namespace, key],
    );
    if (!rows.rows[0]?.ok) {
      await client.end().catch(() => {});
      return null;
    }
    const release = async (): Promise<void> => {
      this.closers.delete(release);
      await client.end().catch(() => {});
    };
    this.closers.add(release);
    return { lost, release };
  }

  async close(): Promise<void> {
    await this.listener.close();
    await Promise.all([...this.closers].map((c) => c()));
    await this.pool.end();
  }
}
