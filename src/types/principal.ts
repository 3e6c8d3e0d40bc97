/**
 * Who is asking: the project a credential belongs to and what it may do there.
 *
 * Projects partition data and credentials (runs with their steps, events and signals,
 * webhooks and deliveries, usage, caps' buckets, and every scoped table later added);
 * agents, queues, providers and workers are deployment-wide. Every read and write of
 * scoped data names the caller's project, and another project's resource answers 404,
 * never 403 — its existence is not revealed.
 *
 * Roles are ordered: `read` < `submit` < `admin`; a role may do what the roles below it do.
 * - `read`: read runs, steps, events, usage, workers, quota, metrics.
 * - `submit`: also submit runs, send signals, cancel, resume, call the gateway.
 * - `admin`: also manage keys, webhooks, budgets and approvals; read the audit log.
 */
export const ROLES = ["read", "submit", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The project of the bootstrap key (`OUTLAST_API_KEY`), of config keys by default, and of in-process calls. */
export const DEFAULT_PROJECT = "default";

export interface Principal {
  project: string;
  role: Role;
  /**
   * The key's id (`keys list` shows it), or null for the bootstrap key and for a
   * deployment without keys (`outlast dev` without `OUTLAST_API_KEY`).
   */
  keyId: string | null;
  /** Set for a run-scoped token: it may act on this run and call the gateway for it, nothing else. */
  runId: string | null;
}

/** Whether `role` may do what `needed` allows. */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** The caller when no key is configured (dev) or for in-process calls: admin of the default project. */
export const DEFAULT_PRINCIPAL: Principal = Object.freeze({
  project: DEFAULT_PROJECT,
  role: "admin",
  keyId: null,
  runId: null,
});
