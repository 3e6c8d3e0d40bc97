/** SQL for the audit log (migration 013): who did what to keys, webhooks and runs' signals. */

/** $1 project, $2 actor, $3 action, $4 target, $5 details jsonb */
export const INSERT_AUDIT = `
INSERT INTO outlast.audit_log (project, actor, action, target, details)
VALUES ($1, $2, $3, $4, $5::jsonb)`;

/**
 * A project's entries, newest first, after a cursor id. $1 project, $2 before id|null,
 * $3 limit, $4 action|null
 */
export const LIST_AUDIT = `
SELECT id, project, at, actor, action, target, details FROM outlast.audit_log
WHERE project = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
  AND ($4::text IS NULL OR action = $4::text)
ORDER BY id DESC
LIMIT $3`;
