/**
 * SQL for API keys and run-scoped tokens (migration 013). Rows hold a SHA-256 of the
 * secret, never the secret. Every write bumps `revision` and NOTIFYs outlast_keys (a
 * trigger), which is how every process's credential cache hears of it.
 */

export const KEYS_CHANNEL = "outlast_keys";

const COLUMNS = `id, project, role, name, prefix, secret_hash, feature, tenant, agent, source,
  run_id, created_by, created_at, expires_at, revoked_at, revision`;

/** Every key a process must know: the live ones. No parameters. */
export const LOAD_KEYS = `
SELECT ${COLUMNS}, now() AS db_now FROM outlast.api_keys
WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
ORDER BY revision`;

/**
 * Rows changed since a revision, revoked ones included (the cache drops them). $1 revision
 */
export const KEYS_SINCE = `
SELECT ${COLUMNS}, now() AS db_now FROM outlast.api_keys WHERE revision > $1 ORDER BY revision`;

/** The highest revision given so far, and whether any non-run key was ever made. */
export const KEYS_STATE = `
SELECT coalesce((SELECT max(revision) FROM outlast.api_keys), 0) AS revision,
       EXISTS (SELECT 1 FROM outlast.api_keys WHERE source <> 'run') AS any_key`;

/**
 * Marks a run as holding tokens, so that its end revokes them (migration 013's trigger);
 * false when the run has already ended (then no token is made). $1 run id
 */
export const MARK_RUN_TOKENS = `
UPDATE outlast.runs SET run_tokens = true
WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'cancelled')
RETURNING id`;

/** $1 name */
export const ENSURE_PROJECT = `
INSERT INTO outlast.projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`;

/**
 * $1 id, $2 project, $3 role, $4 name, $5 prefix, $6 secret hash, $7 feature, $8 tenant,
 * $9 agent, $10 source, $11 run id, $12 created by, $13 expires at
 */
export const INSERT_KEY = `
INSERT INTO outlast.api_keys
  (id, project, role, name, prefix, secret_hash, feature, tenant, agent, source, run_id,
   created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING ${COLUMNS}`;

/**
 * A config key as a row (source 'config'): created, or brought back to the config's
 * project, role and attribution. Unchanged rows are not written (no revision churn at
 * every start). $1 id, $2 project, $3 name, $4 prefix, $5 hash, $6 feature, $7 tenant
 */
export const UPSERT_CONFIG_KEY = `
INSERT INTO outlast.api_keys (id, project, role, name, prefix, secret_hash, feature, tenant, source)
VALUES ($1, $2, 'submit', $3, $4, $5, $6, $7, 'config')
ON CONFLICT (id) DO UPDATE SET project = EXCLUDED.project, feature = EXCLUDED.feature,
  tenant = EXCLUDED.tenant, revoked_at = NULL
WHERE outlast.api_keys.source = 'config' AND (
  outlast.api_keys.project IS DISTINCT FROM EXCLUDED.project OR
  outlast.api_keys.feature IS DISTINCT FROM EXCLUDED.feature OR
  outlast.api_keys.tenant IS DISTINCT FROM EXCLUDED.tenant OR
  outlast.api_keys.revoked_at IS NOT NULL)`;

/** Config keys no longer in the config stop working everywhere. $1 ids still configured */
export const RETIRE_CONFIG_KEYS = `
UPDATE outlast.api_keys SET revoked_at = now()
WHERE source = 'config' AND revoked_at IS NULL AND NOT (id = ANY($1::text[]))`;

/**
 * A project's keys, newest first, one page after a (created_at, id) cursor; run tokens
 * are left out (they end with their run). The cursor's instant is in microseconds since
 * the epoch, exact (a JavaScript Date would cut it to ms). $1 project,
 * $2 cursor µs|null, $3 cursor id|null, $4 limit
 */
export const LIST_KEYS = `
SELECT ${COLUMNS}, (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us
FROM outlast.api_keys
WHERE project = $1 AND source <> 'run'
  AND ($2::bigint IS NULL
       OR (created_at, id) < (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::text))
ORDER BY created_at DESC, id DESC
LIMIT $4`;

/** One key of a project. $1 project, $2 id */
export const GET_KEY = `SELECT ${COLUMNS} FROM outlast.api_keys WHERE project = $1 AND id = $2`;

/**
 * Revokes a key made through the API; config keys and run tokens are not revoked here.
 * Revoking twice keeps the first time. $1 project, $2 id
 */
export const REVOKE_KEY = `
UPDATE outlast.api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE project = $1 AND id = $2 AND source = 'api'
RETURNING ${COLUMNS}`;
