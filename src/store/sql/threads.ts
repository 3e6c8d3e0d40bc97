/**
 * SQL for threads (migration 016). Every statement is scoped by project ($1) and
 * parameterised. The rules that need a lock order or a fresh snapshot (submitting a run on
 * a thread, handing the thread on when its run ends, rollback) are PL/pgSQL functions of
 * the migration; these statements call them or read and write around them.
 */

/** A thread as the API shows it. */
const THREAD_COLUMNS = `id, metadata, CASE WHEN holder IS NULL THEN 'idle' ELSE 'busy' END AS status,
  holder AS active_run_id, version, message_count, forked_from, created_at, updated_at`;

/**
 * Submit a run on a thread (creates the thread on first use); see outlast.thread_submit.
 * $1 project, $2 thread id, $3 strategy, $4 run jsonb
 */
export const THREAD_SUBMIT = `SELECT id, outcome FROM outlast.thread_submit($1, $2, $3, $4::jsonb)`;

/** $1 project, $2 id, $3 metadata jsonb. No row: the thread exists. */
export const CREATE_THREAD = `
INSERT INTO outlast.threads (project, id, metadata) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (project, id) DO NOTHING
RETURNING ${THREAD_COLUMNS}`;

/** $1 project, $2 id */
export const GET_THREAD = `SELECT ${THREAD_COLUMNS} FROM outlast.threads WHERE project = $1 AND id = $2`;

/**
 * Page of threads in id order. $1 project, $2 metadata filter jsonb (containment),
 * $3 cursor id|null (exclusive), $4 limit
 */
export const LIST_THREADS = `
SELECT ${THREAD_COLUMNS} FROM outlast.threads
WHERE project = $1 AND metadata @> $2::jsonb AND ($3::text IS NULL OR id > $3)
ORDER BY id LIMIT $4`;

/** Merge metadata; a null value removes its key. $1 project, $2 id, $3 patch jsonb */
export const PATCH_THREAD = `
UPDATE outlast.threads SET metadata = jsonb_strip_nulls(metadata || $3::jsonb), updated_at = now()
WHERE project = $1 AND id = $2
RETURNING ${THREAD_COLUMNS}`;

/**
 * Delete an idle thread with its entries and versions, and the messages no other entry
 * references. Its runs keep their journals. Returns `deleted` (false: no such thread) and
 * `busy` (a run holds it: nothing deleted). $1 project, $2 id
 */
export const DELETE_THREAD = `
WITH t AS (
  SELECT id, holder FROM outlast.threads WHERE project = $1 AND id = $2 FOR UPDATE
), del AS (
  DELETE FROM outlast.threads x USING t
  WHERE x.project = $1 AND x.id = t.id AND t.holder IS NULL
  RETURNING x.id
), ents AS (
  DELETE FROM outlast.thread_entries e USING del
  WHERE e.project = $1 AND e.thread_id = del.id
  RETURNING e.hash
), vers AS (
  DELETE FROM outlast.thread_versions v USING del
  WHERE v.project = $1 AND v.thread_id = del.id
  RETURNING 1
), msgs AS (
  DELETE FROM outlast.thread_messages m USING (SELECT DISTINCT hash FROM ents) g
  WHERE m.project = $1 AND m.hash = g.hash
    AND NOT EXISTS (SELECT 1 FROM outlast.thread_entries e
                    WHERE e.project = $1 AND e.hash = g.hash AND e.thread_id <> $2)
  RETURNING 1
)
SELECT (SELECT count(*) FROM del) > 0 AS deleted,
  coalesce((SELECT holder IS NOT NULL FROM t), false) AS busy,
  (SELECT count(*)::int FROM msgs) AS messages_deleted,
  (SELECT count(*)::int FROM vers) AS versions_deleted`;

/**
 * Messages `after` < seq <= `upto`, in order. $1 project, $2 thread id, $3 after int,
 * $4 upto int, $5 limit
 */
export const THREAD_MESSAGES = `
SELECT e.seq, e.version, m.message FROM outlast.thread_entries e
JOIN outlast.thread_messages m ON m.project = e.project AND m.hash = e.hash
WHERE e.project = $1 AND e.thread_id = $2 AND e.seq > $3 AND e.seq <= $4
ORDER BY e.seq LIMIT $5`;

/**
 * The thread's state document at `version` (null: current), with the version's message
 * count. $1 project, $2 thread id, $3 version int|null
 */
export const THREAD_STATE_AT = `
SELECT v.version, v.message_count,
  coalesce((SELECT s.state FROM outlast.thread_versions s
            WHERE s.project = $1 AND s.thread_id = $2 AND s.version <= v.version
              AND s.state IS NOT NULL
            ORDER BY s.version DESC LIMIT 1), '{}'::jsonb) AS state
FROM (
  SELECT x.version, x.message_count FROM outlast.threads x
  WHERE x.project = $1 AND x.id = $2 AND $3::int IS NULL
  UNION ALL
  SELECT v.version, v.message_count FROM outlast.thread_versions v
  WHERE v.project = $1 AND v.thread_id = $2 AND v.version = $3::int
  UNION ALL
  SELECT 0, 0 WHERE $3::int = 0
) AS v`;

/**
 * Versions, newest first, and the run that made each. $1 project, $2 thread id,
 * $3 before version int|null (exclusive), $4 limit
 */
export const THREAD_HISTORY = `
SELECT version, kind, run_id, message_count, state IS NOT NULL AS state_changed, created_at
FROM outlast.thread_versions
WHERE project = $1 AND thread_id = $2 AND ($3::int IS NULL OR version < $3)
ORDER BY version DESC LIMIT $4`;

/**
 * A run's write to its thread: appends messages and/or merges a state patch (a null value
 * removes its key), making one version. Fenced twice: the run must hold its claim (lease
 * token) and the thread (holder). Idempotent per (run, step seq): a write made before a
 * crash, whose journal row was lost, is found and not made again.
 * Returns the version and message count the write made (null: fenced out).
 * $1 project, $2 thread id, $3 run id, $4 lease token, $5 step seq, $6 messages jsonb
 * array, $7 state patch jsonb|null
 */
export const THREAD_WRITE = `
WITH prior AS (
  SELECT version, message_count FROM outlast.thread_versions
  WHERE run_id = $3 AND step_seq = $5
), t AS (
  UPDATE outlast.threads x SET version = x.version + 1,
    message_count = x.message_count + jsonb_array_length($6::jsonb),
    state = CASE WHEN $7::jsonb IS NULL THEN x.state ELSE jsonb_strip_nulls(x.state || $7::jsonb) END,
    updated_at = now()
  WHERE x.project = $1 AND x.id = $2 AND x.holder = $3
    AND EXISTS (SELECT 1 FROM outlast.runs r
                WHERE r.id = $3 AND r.lease_token = $4 AND r.status = 'running')
    AND NOT EXISTS (SELECT 1 FROM prior)
  RETURNING x.version, x.message_count, x.state
), m AS (
  SELECT e.ord, e.msg, md5(e.msg::text)::uuid AS hash
  FROM t, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS e(msg, ord)
), msgs AS (
  INSERT INTO outlast.thread_messages (project, hash, message)
  SELECT DISTINCT ON (hash) $1, hash, msg FROM m
  ON CONFLICT DO NOTHING
), ents AS (
  INSERT INTO outlast.thread_entries (project, thread_id, seq, hash, version)
  SELECT $1, $2, t.message_count - jsonb_array_length($6::jsonb) + m.ord::int, m.hash, t.version
  FROM t, m
), ver AS (
  INSERT INTO outlast.thread_versions (project, thread_id, version, kind, run_id, step_seq,
    message_count, state)
  SELECT $1, $2, t.version, CASE WHEN $7::jsonb IS NULL THEN 'append' ELSE 'state' END, $3, $5,
    t.message_count, CASE WHEN $7::jsonb IS NULL THEN NULL ELSE t.state END
  FROM t
)
SELECT coalesce((SELECT version FROM t), (SELECT version FROM prior)) AS version,
  coalesce((SELECT message_count FROM t), (SELECT message_count FROM prior)) AS message_count`;

/**
 * Fork: a new thread whose transcript and state are the source's at `version`. Entries are
 * references to the same message rows (nothing copied but the references).
 * $1 project, $2 source id, $3 version int, $4 new id, $5 metadata jsonb
 * Returns no row when the new id is taken.
 */
export const FORK_THREAD = `
WITH src AS (
  SELECT version, message_count, state FROM (${THREAD_STATE_AT}) s
), ins AS (
  INSERT INTO outlast.threads (project, id, metadata, version, message_count, state, forked_from)
  SELECT $1, $4, $5::jsonb, 1, src.message_count, src.state,
    jsonb_build_object('thread_id', $2::text, 'version', src.version)
  FROM src
  ON CONFLICT (project, id) DO NOTHING
  RETURNING id, message_count, state
), ents AS (
  INSERT INTO outlast.thread_entries (project, thread_id, seq, hash, version)
  SELECT $1, ins.id, e.seq, e.hash, 1 FROM ins
  JOIN outlast.thread_entries e ON e.project = $1 AND e.thread_id = $2 AND e.seq <= ins.message_count
), ver AS (
  INSERT INTO outlast.thread_versions (project, thread_id, version, kind, message_count, state)
  SELECT $1, ins.id, 1, 'fork', ins.message_count, ins.state FROM ins
)
SELECT id FROM ins`;

/**
 * Retention (src/retention): idle threads not written to since $1, oldest first, whole,
 * with their entries and versions and the messages no other entry references. Takes as many
 * threads as $2 rows would allow at 50 rows a thread (a thread is never split across
 * batches). Walks from where the pass got to. $1 idle since timestamptz, $2 rows at most,
 * $3 from timestamptz → rows deleted, last
 */
export const PRUNE_THREADS = `
WITH t AS (
  SELECT project, id, updated_at FROM outlast.threads
  WHERE holder IS NULL AND updated_at < $1::timestamptz AND updated_at >= $3::timestamptz
  ORDER BY updated_at LIMIT greatest(1, $2::int / 50) FOR UPDATE SKIP LOCKED
), del AS (
  DELETE FROM outlast.threads x USING t WHERE x.project = t.project AND x.id = t.id
  RETURNING x.project, x.id, x.updated_at
), ents AS (
  DELETE FROM outlast.thread_entries e USING del
  WHERE e.project = del.project AND e.thread_id = del.id
  RETURNING e.project, e.hash
), vers AS (
  DELETE FROM outlast.thread_versions v USING del
  WHERE v.project = del.project AND v.thread_id = del.id
  RETURNING 1
), msgs AS (
  DELETE FROM outlast.thread_messages m USING (SELECT DISTINCT project, hash FROM ents) g
  WHERE m.project = g.project AND m.hash = g.hash
    AND NOT EXISTS (SELECT 1 FROM outlast.thread_entries e
                    WHERE e.project = g.project AND e.hash = g.hash
                      AND NOT EXISTS (SELECT 1 FROM del WHERE del.project = e.project
                                      AND del.id = e.thread_id))
  RETURNING 1
)
SELECT ((SELECT count(*) FROM del) + (SELECT count(*) FROM ents) + (SELECT count(*) FROM vers)
  + (SELECT count(*) FROM msgs))::int AS deleted,
  (SELECT max(updated_at) FROM del) AS last`;
