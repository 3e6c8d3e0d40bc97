/**
 * The one database interface the engine talks to. Two implementations run the same SQL:
 * PostgreSQL through `pg` (production, scale-out) and PGlite (embedded default, one process).
 */
export interface Queryable {
  /** One parameterised statement; returns its rows. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SessionLock {
  /** Resolves when the session holding the lock is gone (connection lost). */
  readonly lost: Promise<Error>;
  release(): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel. `onReconnect` is called after the listening session
   * was lost and re-established: notifications may have been missed, so callers poll once.
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * Takes a session-level advisory lock on a dedicated connection and holds it until
   * released or the connection dies. Returns null where there is no such thing (PGlite:
   * one process owns the database, so liveness needs no lock) or the key is taken.
   */
  tryHoldSessionLock(namespace: number, key: number): Promise<SessionLock | null>;
  /** The connection pool's use (PostgreSQL; PGlite has no pool). For /metrics. */
  poolStats?(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/** Namespace (first key) of every advisory lock Outlast takes: "OUTL" in ASCII. */
export const LOCK_NAMESPACE = 0x4f55544c;
