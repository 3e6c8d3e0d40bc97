/**
 * Making, listing and revoking keys: what POST/GET/DELETE /v1/keys and `outlast keys`
 * do, and the rows config keys and run tokens become. Each change is one transaction
 * with its audit entry; the row's trigger bumps its revision and NOTIFYs every process's
 * CredentialStore.
 */
import { TerminalError } from "../errors.js";
import type { Db, Queryable } from "../store/db.js";
import {
  ENSURE_PROJECT,
  GET_KEY,
  INSERT_KEY,
  LIST_KEYS,
  MARK_RUN_TOKENS,
  RETIRE_CONFIG_KEYS,
  REVOKE_KEY,
  UPSERT_CONFIG_KEY,
} from "../store/sql/keys.js";
import { DEFAULT_PROJECT, type Role } from "../types/principal.js";
import { recordAudit } from "./audit.js";
import type { ConfigKey, KeyRow } from "./credentials.js";
import { configKeyId, newKeyMaterial, sha256Hex } from "./tokens.js";

export interface NewKey {
  project: string;
  role: Role;
  name: string;
  expiresAt?: Date | undefined;
  /** Who makes it, for the audit log: a key id, `bootstrap`, `cli`, `open`. */
  actor: string;
}

/**
 * Makes an API key. The token is returned here and nowhere else, ever.
 *
 * @example
 * const { token, row } = await createKey(db, { project: "default", role: "read", name: "ci", actor: "cli" });
 */
export async function createKey(db: Db, k: NewKey): Promise<{ token: string; row: KeyRow }> {
  const m = newKeyMaterial("olk");
  const row = await db.transaction(async (tx) => {
    await tx.query(ENSURE_PROJECT, [k.project]);
    const [r] = await tx.query<KeyRow>(INSERT_KEY, [
      m.id,
      k.project,
      k.role,
      k.name,
      m.prefix,
      m.secretHash,
      null,
      null,
      null,
      "api",
      null,
      k.actor,
      k.expiresAt ?? null,
    ]);
    await recordAudit(tx, {
      project: k.project,
      actor: k.actor,
      action: "key.create",
      target: m.id,
      details: { name: k.name, role: k.role, expires_at: k.expiresAt?.toISOString() ?? null },
    });
    return r as KeyRow;
  });
  return { token: m.token, row };
}

/** One page of a project's keys (run tokens left out), newest first. */
export async function listKeys(
  db: Queryable,
  project: string,
  opts: { after?: { createdUs: string; id: string } | undefined; limit: number },
): Promise<(KeyRow & { created_us: string })[]> {
  return db.query<KeyRow & { created_us: string }>(LIST_KEYS, [
    project,
    opts.after?.createdUs ?? null,
    opts.after?.id ?? null,
    opts.limit,
  ]);
}

export type RevokeOutcome =
  | { kind: "revoked"; row: KeyRow }
  | { kind: "not_found" }
  | {
      kind: "read_only";
      row: KeyRow;
    };

/**
 * Revokes a project's key. Another project's id is `not_found` (its existence is not
 * revealed); a config key is `read_only` (remove it from the config instead).
 */
export async function revokeKey(
  db: Db,
  project: string,
  id: string,
  actor: string,
): Promise<RevokeOutcome> {
  return db.transaction(async (tx) => {
    const [existing] = await tx.query<KeyRow>(GET_KEY, [project, id]);
    if (!existing || existing.source === "run") return { kind: "not_found" as const };
    if (existing.source === "config") return { kind: "read_only" as const, row: existing };
    const [row] = await tx.query<KeyRow>(REVOKE_KEY, [project, id]);
    if (existing.revoked_at === null) {
      await recordAudit(tx, { project, actor, action: "key.revoke", target: id });
    }
    return { kind: "revoked" as const, row: row as KeyRow };
  });
}

/**
 * config.gateway.keys as rows (source 'config', role submit): listed with the project's
 * keys, not revocable through the API; a key removed from the config is revoked.
 */
export async function syncConfigKeys(
  db: Db,
  keys: Readonly<Record<string, ConfigKey>>,
): Promise<void> {
  await db.transaction(async (tx) => {
    const ids: string[] = [];
    for (const [key, a] of Object.entries(keys)) {
      const id = configKeyId(key);
      ids.push(id);
      const project = a.project ?? DEFAULT_PROJECT;
      await tx.query(ENSURE_PROJECT, [project]);
      await tx.query(UPSERT_CONFIG_KEY, [
        id,
        project,
        "config.gateway.keys",
        `${key.slice(0, 4)}…`,
        sha256Hex(key),
        a.feature ?? null,
        a.tenant ?? null,
      ]);
    }
    await tx.query(RETIRE_CONFIG_KEYS, [ids]);
  });
}

export interface RunTokenFor {
  runId: string;
  project: string;
  agent: string;
  feature?: string | undefined;
  tenant?: string | undefined;
}

/**
 * Mints a run-scoped token: role submit, acting only on its run, its gateway calls
 * attributed to the run. Revoked by the database when the run ends (migration 013's
 * trigger on runs.status). The run's row is locked first, so a run ending at the same
 * moment either ends after the token exists (and revokes it) or before (and no token is
 * made: TerminalError).
 */
export async function mintRunToken(db: Db, r: RunTokenFor): Promise<string> {
  const m = newKeyMaterial("olr");
  await db.transaction(async (tx) => {
    const marked = await tx.query(MARK_RUN_TOKENS, [r.runId]);
    if (marked.length === 0) {
      throw new TerminalError(`run ${r.runId} has ended; it gets no token`, {
        code: "OUTLAST_RUN_ENDED",
      });
    }
    await tx.query(ENSURE_PROJECT, [r.project]);
    await tx.query(INSERT_KEY, [
      m.id,
      r.project,
      "submit",
      `run ${r.runId}`,
      m.prefix,
      m.secretHash,
      r.feature ?? null,
      r.tenant ?? null,
      r.agent,
      "run",
      r.runId,
      "run",
      null,
    ]);
  });
  return m.token;
}
