/**
 * Every credential a process accepts, in memory: the bootstrap key(s), the config's
 * gateway keys, and the rows of outlast.api_keys (API keys and run tokens). The API's
 * auth middleware, the gateway's Hono routes and the gateway's node:http fast path all
 * ask this one store, so the three doors accept the same credentials.
 *
 * Per request, nothing is hashed and nothing is read from the database:
 * - `olk_`/`olr_` tokens are found by their id in a Map. The first time a key is
 *   presented its secret is hashed and compared with the stored SHA-256; from then on a
 *   `secretKey(secret)` (src/util/bearer.ts) is kept, so later requests compare in
 *   constant time without a hash.
 * - other keys (OUTLAST_API_KEY, OUTLAST_API_KEY_PREVIOUS, config.gateway.keys: a few, of
 *   any format) are compared in constant time, each of them, every time.
 *
 * Revocation and expiry: an expired key is refused by the clock (the database's, offset
 * to ours at each read); a revoked key leaves the cache when its row's new revision is
 * read — at once on NOTIFY outlast_keys, and at most `pollMs` later by the poll
 * (`WHERE revision > $last`) when a notification is lost. NOTIFY is the latency hint, the
 * poll the guarantee, as everywhere in Outlast.
 *
 * Auth is on when a bootstrap or config key is set or any API key was ever made (a
 * revoked last key does not open the door again); otherwise (`outlast dev` with no key)
 * every caller is the default project's admin. Run tokens alone do not turn it on.
 */
import { timingSafeEqual } from "node:crypto";
import type { Db } from "../store/db.js";
import { KEYS_CHANNEL, KEYS_SINCE, KEYS_STATE, LOAD_KEYS } from "../store/sql/keys.js";
import { DEFAULT_PROJECT, type Principal, type Role } from "../types/principal.js";
import { type SecretKey, secretKey } from "../util/bearer.js";
import type { Logger } from "../util/log.js";
import { configKeyId, parseToken, sha256Hex as sha256, type TokenKind } from "./tokens.js";

/** Who a credential is, and the attribution defaults of its gateway calls. */
export interface Credential {
  principal: Principal;
  feature?: string | undefined;
  tenant?: string | undefined;
  /** A run token's run's agent. */
  agent?: string | undefined;
}

/** A row of outlast.api_keys as read. */
export interface KeyRow {
  id: string;
  project: string;
  role: Role;
  name: string;
  prefix: string;
  secret_hash: string;
  feature: string | null;
  tenant: string | null;
  agent: string | null;
  source: "api" | "config" | "run";
  run_id: string | null;
  created_by: string | null;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  revision: string | number;
}

/** A config key's attribution (config.gateway.keys). */
export interface ConfigKey {
  project?: string | undefined;
  feature?: string | undefined;
  tenant?: string | undefined;
}

export interface CredentialStoreOptions {
  /** Where API keys live. Without it only the bootstrap and config keys are known. */
  db?: Db | undefined;
  /** OUTLAST_API_KEY, then OUTLAST_API_KEY_PREVIOUS while a rotation overlaps. */
  bootstrap?: readonly (string | undefined)[];
  /** config.gateway.keys: key → attribution. */
  configKeys?: Readonly<Record<string, ConfigKey>>;
  /** The fallback poll, ms. Default 500: a revocation is refused within a second. */
  pollMs?: number;
  /** LISTEN for changes (default true); false follows them by the poll alone (tests). */
  listen?: boolean;
  log?: Logger | undefined;
}

interface StoredEntry {
  kind: TokenKind;
  hash: Buffer;
  /** Set at the first good presentation: later ones compare without hashing. */
  cached: SecretKey | undefined;
  /** Local clock; Infinity without expiry. */
  expiresAtMs: number;
  credential: Credential;
}

interface StaticEntry {
  key: SecretKey;
  credential: Credential;
}

const KIND_OF_SOURCE = { api: "olk", config: undefined, run: "olr" } as const;

export class CredentialStore {
  private readonly byId = new Map<string, StoredEntry>();
  private readonly statics: StaticEntry[] = [];
  private readonly db: Db | undefined;
  private readonly pollMs: number;
  private lastRevision = 0;
  private anyStoredKey = false;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly opts: CredentialStoreOptions = {}) {
    this.db = opts.db;
    this.pollMs = opts.pollMs ?? 500;
    for (const key of opts.bootstrap ?? []) {
      if (key === undefined || key === "") continue;
      this.statics.push({
        key: secretKey(key),
        credential: {
          principal: Object.freeze({
            project: DEFAULT_PROJECT,
            role: "admin",
            keyId: null,
            runId: null,
          }),
        },
      });
    }
    for (const [key, a] of Object.entries(opts.configKeys ?? {})) {
      this.statics.push({
        key: secretKey(key),
        credential: {
          principal: Object.freeze({
            project: a.project ?? DEFAULT_PROJECT,
            role: "submit",
            keyId: configKeyId(key),
            runId: null,
          }),
          feature: a.feature,
          tenant: a.tenant,
        },
      });
    }
  }

  /** Whether callers must present a credential. */
  get enabled(): boolean {
    return this.statics.length > 0 || this.anyStoredKey;
  }

  /** Reads every live key and follows changes (NOTIFY and the poll) until `close`. */
  async start(): Promise<void> {
    const db = this.db;
    if (!db) return;
    const [state] = await db.query<{ revision: string; any_key: boolean }>(KEYS_STATE);
    const since = Number(state?.revision ?? 0);
    this.anyStoredKey = state?.any_key === true;
    const rows = await db.query<KeyRow & { db_now: Date | string }>(LOAD_KEYS);
    for (const r of rows) this.apply(r, r.db_now);
    // Rows changed after the state was read are read again by the first refresh: harmless.
    this.lastRevision = since;
    if (this.opts.listen !== false) {
      this.unlisten = await db
        .listen(
          KEYS_CHANNEL,
          () => this.refresh(),
          () => this.refresh(),
        )
        .catch((err) => {
          this.opts.log?.warn("keys: LISTEN failed; following changes by polling", {
            error: String(err),
          });
          return undefined;
        });
    }
    this.timer = setInterval(() => this.refresh(), this.pollMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
    await this.refreshing?.catch(() => {});
  }

  /**
   * Reads the rows changed since the last read. Coalesced: while one read is in flight,
   * any number of calls make one more. Resolves when the changes so far are applied.
   */
  refresh(): Promise<void> {
    if (this.closed || !this.db) return Promise.resolve();
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    const db = this.db;
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        const rows = await db.query<KeyRow & { db_now: Date | string }>(KEYS_SINCE, [
          this.lastRevision,
        ]);
        for (const r of rows) this.apply(r, r.db_now);
      } while (this.again && !this.closed);
    };
    this.refreshing = run()
      .catch((err) => {
        this.opts.log?.warn("keys: refresh failed; retrying at the next poll", {
          error: String(err),
        });
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private apply(r: KeyRow, dbNow: Date | string): void {
    this.lastRevision = Math.max(this.lastRevision, Number(r.revision));
    if (r.source !== "run") this.anyStoredKey = true;
    const kind = KIND_OF_SOURCE[r.source];
    if (kind === undefined || r.revoked_at !== null) {
      this.byId.delete(r.id);
      return;
    }
    // Expiry on our clock: the row's instant less the database's lead over us.
    const skew = new Date(dbNow).getTime() - Date.now();
    const expiresAtMs = r.expires_at === null ? Infinity : new Date(r.expires_at).getTime() - skew;
    const old = this.byId.get(r.id);
    const hash = Buffer.from(r.secret_hash, "hex");
    this.byId.set(r.id, {
      kind,
      hash,
      cached: old?.hash.equals(hash) ? old.cached : undefined,
      expiresAtMs,
      credential: {
        principal: Object.freeze({
          project: r.project,
          role: r.role,
          keyId: r.id,
          runId: r.run_id,
        }),
        feature: r.feature ?? undefined,
        tenant: r.tenant ?? undefined,
        agent: r.agent ?? undefined,
      },
    });
  }

  /**
   * The credential a presented key is, or undefined when it is none (unknown, wrong
   * secret, revoked, expired).
   *
   * @example
   * const cred = store.resolve(bearerToken(req.headers.authorization) ?? "");
   */
  resolve(token: string): Credential | undefined {
    const parsed = parseToken(token);
    if (parsed !== undefined) {
      const found = this.resolveStored(parsed.kind, parsed.id, parsed.secret);
      if (found !== undefined) return found;
    }
    // Every static key is compared, whichever matches: the time does not tell which.
    let found: Credential | undefined;
    for (const s of this.statics) if (s.key.matches(token)) found ??= s.credential;
    return found;
  }

  private resolveStored(kind: TokenKind, id: string, secret: string): Credential | undefined {
    const e = this.byId.get(id);
    if (e === undefined || e.kind !== kind) return;
    if (Date.now() >= e.expiresAtMs) return;
    if (e.cached !== undefined) return e.cached.matches(secret) ? e.credential : undefined;
    const hash = Buffer.from(sha256(secret), "hex");
    if (hash.length !== e.hash.length || !timingSafeEqual(hash, e.hash)) return;
    e.cached = secretKey(secret);
    return e.credential;
  }

  /** How many stored keys this process holds (tests, /metrics). */
  get size(): number {
    return this.byId.size;
  }
}
