/**
 * The audit log: who (a key id, `bootstrap`, `cli`, or `open` on a deployment without
 * keys) did what (key.create, key.revoke, webhook.create, webhook.delete, run.signal) to
 * what, when, in which project. Read by admin keys with GET /v1/audit.
 */
import type { Queryable } from "../store/db.js";
import { INSERT_AUDIT, LIST_AUDIT } from "../store/sql/audit.js";

export type AuditAction =
  | "key.create"
  | "key.revoke"
  | "webhook.create"
  | "webhook.delete"
  | "run.signal";

export interface AuditEntry {
  project: string;
  actor: string;
  action: AuditAction;
  target: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  project: string;
  at: Date | string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

/**
 * Writes one entry; pass the transaction of the change it records when there is one, so
 * both are stored or neither.
 *
 * @example
 * await recordAudit(tx, { project, actor: "cli", action: "key.create", target: id });
 */
export async function recordAudit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query(INSERT_AUDIT, [
    e.project,
    e.actor,
    e.action,
    e.target,
    JSON.stringify(e.details ?? {}),
  ]);
}

/** A project's entries, newest first. `before`: the last id of the previous page. */
export async function listAudit(
  db: Queryable,
  project: string,
  opts: { before?: string | undefined; limit: number; action?: string | undefined },
): Promise<AuditRow[]> {
  return db.query<AuditRow>(LIST_AUDIT, [
    project,
    opts.before ?? null,
    opts.limit,
    opts.action ?? null,
  ]);
}
