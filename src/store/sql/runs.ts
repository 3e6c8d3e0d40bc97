/**
 * SQL for the runs table. Every statement is parameterised, and a batch of N rows is one
 * statement and one round trip on PostgreSQL and PGlite alike. Batches that join the runs
 * table arrive as parallel arrays unpacked with unnest(): the planner estimates 10 rows
 * for it (jsonb_to_recordset: 100), so it always picks index lookups by id rather than
 * hashing every running run — the hash plan cost 2–5 ms per batch at 2,500 runs.
 *
 * Invariant the fencing relies on: `lease_token` is non-null exactly while a run is
 * `running`; every statement that moves a run out of `running` clears it.
 */

/** Columns the API shows. */
export const RUN_COLUMNS = `id, project, agent, queue, status, input, output, error, progress, thread_id,
  priority, concurrency_key, tags, idempotency_key, attempt, max_attempts, available_at,
  cancel_requested, created_at, started_at, finished_at, updated_at, waiting_for,
  parent_run_id, agent_version, trace_id, span_id, parent_span_id`;

/**
 * Insert runs; an existing idempotency key keeps the existing run (no row returned for it).
 * Wakes workers of each queue (PostgreSQL folds identical notifications in a transaction).
 * $1 jsonb: [{id, project, agent, queue, input_json, thread_id, priority, concurrency_key,
 *             tags, idempotency_key, max_attempts, available_at, parent_run_id, agent_version,
 *             trace_id, span_id, parent_span_id}] (the trace keys may be absent)
 */
export const INSERT_RUNS = `
WITH x AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    id uuid, project text, agent text, queue text, input_json text, thread_id text, priority int,
    concurrency_key text, tags jsonb, idempotency_key text, max_attempts int,
    available_at timestamptz, parent_run_id uuid, agent_version text, trace_id text,
    span_id text, parent_span_id text)
), ins AS (
  INSERT INTO outlast.runs (id, project, agent, queue, status, input, thread_id, priority,
    concurrency_key, tags, idempotency_key, max_attempts, available_at, parent_run_id,
    agent_version, trace_id, span_id, parent_span_id)
  SELECT id, project, agent, queue, 'queued', input_json::jsonb, thread_id, coalesce(priority, 0),
    concurrency_key, coalesce(tags, '{}'::jsonb), idempotency_key, max_attempts,
    coalesce(available_at, now()), parent_run_id, agent_version, trace_id, span_id,
    parent_span_id
  FROM x
  ON CONFLICT (project, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING ${RUN_COLUMNS}
)
SELECT ins.* FROM ins, LATERAL (SELECT pg_notify('outlast_ready', ins.queue)) AS n`;

/** $1 project, $2 idempotency key */
export const GET_RUN_BY_IDEMPOTENCY_KEY = `SELECT ${RUN_COLUMNS} FROM outlast.runs
WHERE project = $1 AND idempotency_key = $2`;

/** $1 run id */
export const GET_RUN = `SELECT ${RUN_COLUMNS} FROM outlast.runs WHERE id = $1`;

/** A run as its project sees it: another project's run is not found. $1 run id, $2 project */
export const GET_PROJECT_RUN = `SELECT ${RUN_COLUMNS} FROM outlast.runs WHERE id = $1 AND project = $2`;

/** $1 run ids uuid[] — status only, for waiters polling. */
export const GET_RUN_STATUSES = `SELECT id, status FROM outlast.runs WHERE id = ANY($1::uuid[])`;

/**
 * Page of runs, newest first. Ids are UUIDv7, so id order is creation order.
 * $1 status|null, $2 agent|null, $3 thread_id|null, $4 cursor id|null (exclusive), $5 limit,
 * $6 project
 */
export const LIST_RUNS = `
SELECT ${RUN_COLUMNS} FROM outlast.runs
WHERE project = $6
  AND ($1::text IS NULL OR status = $1)
  AND ($2::text IS NULL OR agent = $2)
  AND ($3::text IS NULL OR thread_id = $3)
  AND ($4::uuid IS NULL OR id < $4)
ORDER BY id DESC
LIMIT $5`;

/** What a claim returns of each run. */
/** A claimed run's columns, named as `ClaimedRun` (src/types/runs.ts) names its fields. */
const CLAIMED_COLUMNS = `r.id, r.project, r.agent, r.queue, r.input, r.attempt,
  r.max_attempts AS "maxAttempts", r.claims, r.lease_token AS "leaseToken",
  r.cancel_requested AS "cancelRequested", r.thread_id AS "threadId", r.tags, r.wakeups,
  r.agent_version AS "agentVersion", r.parent_run_id AS "parentRunId",
  r.progress_calls AS "progressCalls", c.waiting_for AS "priorWaitingFor",
  r.created_at AS "createdAt", r.started_at AS "startedAt", r.trace_id AS "traceId",
  r.span_id AS "spanId", r.parent_span_id AS "parentSpanId"`;

/**
 * The best ready runs of some queues, locked. Each queue is scanned on its own in index
 * order (queue, priority DESC, available_at, id) and stops after `limit` rows; one scan
 * over `queue = ANY(…)` instead read and sorted every ready run (2,490 rows, 5 ms).
 * `available_at < 'infinity'` matches runs_ready_idx's predicate (migration 016): runs
 * queued behind their thread, or parked with no deadline, are not in it, so a claim that
 * finds fewer ready runs than `limit` does not walk them.
 */
function readyRuns(queues: string, limit: string): string {
  return `
  SELECT cand.id, cand.waiting_for FROM unnest(${queues}::text[]) AS q(name)
  CROSS JOIN LATERAL (
    SELECT id, priority, available_at, waiting_for FROM outlast.runs
    WHERE queue = q.name
      AND status IN ('queued', 'waiting', 'throttled')
      AND available_at <= now() AND available_at < 'infinity'::timestamptz
    ORDER BY priority DESC, available_at, id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED
  ) AS cand
  ORDER BY cand.priority DESC, cand.available_at, cand.id
  LIMIT ${limit}`;
}

/**
 * The best ready runs of some queues by weighted fairness between tenants, locked
 * (config `fairness`; src/quota/fairness.ts has the rules). The query is the function
 * outlast.fair_ready_runs of migration 007, so that its plan is cached per connection
 * (planning it took 8× its execution on PGlite, which plans every statement it is sent).
 * @param tenants text[], weights float8[] and running int[]: parallel arrays
 */
function fairReadyRuns(
  queues: string,
  limit: string,
  tenants: string,
  weights: string,
  running: string,
  defaultWeight: string,
): string {
  return `SELECT id, waiting_for FROM outlast.fair_ready_runs(${queues}::text[], ${limit}::int,
    ${tenants}::text[], ${weights}::float8[], ${running}::int[], ${defaultWeight}::float8)`;
}

/** A run's tenant, as migration 007 indexes it. */
const TENANT = "coalesce(tags ->> 'tenant', '')";

/**
 * Leases the runs `c` selected; a claim after a submit, a retry or a resume begins the
 * next attempt (`new_attempt`, migration 010), any other continues the current one. The
 * claiming worker's retry policy replaces the one the run was submitted with (`agents`
 * and `maxAttempts`: parallel arrays, an agent's policy at its index), never below the
 * attempt the run is in; in the claim itself, so a changed policy costs no round trip. The `= ANY(ARRAY(…))` is for the planner: in a generic plan
 * `LIMIT $n` is estimated at 10% of the ready runs, and once the table has statistics
 * (autovacuum's ANALYZE) a join on `r.id = c.id` alone became a hash join over a seq scan
 * of every run, an O(table) claim: FINISH_AND_CLAIM of 10 runs took 4.1–5.5 ms at 10k runs
 * analyzed, 2.1 ms with this (index scan of runs_pkey by the ids of `c`).
 */
const LEASE = (workerId: string, agents: string, maxAttempts: string) => `UPDATE outlast.runs r
SET status = 'running', lease_owner = ${workerId}, lease_token = gen_random_uuid(),
    claims = r.claims + 1, started_at = coalesce(r.started_at, now()), updated_at = now(),
    waiting_for = NULL, attempt = r.attempt + r.new_attempt::int, new_attempt = false,
    max_attempts = greatest(r.attempt + r.new_attempt::int, coalesce(
      (${maxAttempts}::int[])[array_position(${agents}::text[], r.agent)], r.max_attempts))
FROM c WHERE r.id = ANY(ARRAY(SELECT id FROM c)) AND r.id = c.id
RETURNING ${CLAIMED_COLUMNS}`;

/**
 * Claim: lease the best ready runs of some queues for one worker, in one statement
 * (graphile-worker's getJobs shape). Each claim gets a new fencing token.
 * $1 text[] queues, $2 int limit, $3 worker id, $4 text[] the worker's agents, $5 int[]
 * their maxAttempts
 */
export const CLAIM_RUNS = `
WITH c AS (${readyRuns("$1", "$2")})
${LEASE("$3", "$4", "$5")}`;

/**
 * CLAIM_RUNS with weighted fairness between tenants (see fairReadyRuns).
 * $1 text[] queues, $2 int limit, $3 worker id, $4 tenants text[], $5 weights float8[],
 * $6 runs each tenant runs now int[], $7 weight of unlisted tenants float8, $8 text[] the
 * worker's agents, $9 int[] their maxAttempts
 */
export const CLAIM_RUNS_FAIR = `
WITH c AS (${fairReadyRuns("$1", "$2", "$4", "$5", "$6", "$7")})
${LEASE("$3", "$8", "$9")}`;

/**
 * Serialises claims on a queue with a global concurrency cap. $1 lock namespace, $2 queue
 */
export const LOCK_QUEUE = `SELECT pg_advisory_xact_lock($1::int, hashtext($2))`;

/** $1 queue */
export const COUNT_RUNNING_IN_QUEUE = `
SELECT count(*)::int AS n FROM outlast.runs WHERE queue = $1 AND status = 'running'`;

/** COUNT_RUNNING_IN_QUEUE by tenant, for a fair claim on a capped queue. $1 queue */
export const COUNT_RUNNING_IN_QUEUE_BY_TENANT = `
SELECT ${TENANT} AS tenant, count(*)::int AS n FROM outlast.runs
WHERE queue = $1 AND status = 'running'
GROUP BY 1`;

/**
 * A finished child run wakes its parent: bump the parent's wake counter and, when it is
 * parked, make it ready now (see migration 003 for why the counter). Used inside FINISH_*
 * where `upd` holds the finished runs' (id, parent_run_id).
 */
const WAKE_PARENTS = `
  UPDATE outlast.runs p
  SET wakeups = p.wakeups + 1,
      available_at = CASE WHEN p.status = 'waiting' THEN now() ELSE p.available_at END
  FROM upd WHERE p.id = upd.parent_run_id
  RETURNING p.id, pg_notify('outlast_ready', p.queue)`;

/**
 * The finishing half of FINISH_RUNS and FINISH_AND_CLAIM: `upd` holds the runs finished
 * (only where the claim is current), `parents` the parents they woke.
 * $1 ids uuid[], $2 lease tokens uuid[], $3 statuses text[], $4 output JSON text[],
 * $5 error JSON text[]
 */
const FINISH_CTES = `WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
    AS x(id, lease_token, status, output_json, error_json)
), upd AS (
  UPDATE outlast.runs r
  SET status = x.status, output = x.output_json::jsonb, error = x.error_json::jsonb,
      finished_at = now(), updated_at = now(), lease_owner = NULL, lease_token = NULL
  FROM x
  WHERE r.id = x.id AND r.lease_token = x.lease_token
  RETURNING r.id, r.parent_run_id
), parents AS (${WAKE_PARENTS})`;

/**
 * Finish runs (group commit). Only the holder of the current claim may finish a run.
 * One NOTIFY carries the ids of the batch for `?wait=` waiters (8 kB payload limit: the
 * caller sends at most 150 ids per statement).
 * $1 ids uuid[], $2 lease tokens uuid[], $3 statuses text[], $4 output JSON text[],
 * $5 error JSON text[]
 */
export const FINISH_RUNS = `
${FINISH_CTES}
SELECT upd.id,
  (SELECT pg_notify('outlast_done', string_agg(u.id::text, ',')) FROM upd u) IS NULL AS notified,
  (SELECT count(*)::int FROM parents) AS parents_woken
FROM upd`;

/**
 * Put a run back in the queue after a failed attempt or while it waits for quota.
 * $1 id, $2 lease token, $3 status ('queued'|'throttled'), $4 delay ms, $5 error jsonb,
 * $6 bool: the next claim begins a new attempt (a retry; false for rate-limit waits),
 * $7 waiting_for jsonb (why it is held: src/engine/waiting-for.ts), its `until` and `eta`
 * filled here from the database's clock
 */
export const REQUEUE_RUN = `
WITH upd AS (
  UPDATE outlast.runs
  SET status = $3, available_at = now() + ($4::int * interval '1 millisecond'), error = $5::jsonb,
      new_attempt = $6::bool, lease_owner = NULL, lease_token = NULL, updated_at = now(),
      waiting_for = $7::jsonb || jsonb_build_object(
          'until', to_char((now() + ($4::int * interval '1 millisecond')) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'eta', to_char((now() + ($4::int * interval '1 millisecond')) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  WHERE id = $1 AND lease_token = $2 AND status = 'running'
  RETURNING id, queue
)
SELECT upd.id FROM upd, LATERAL (SELECT pg_notify('outlast_ready', upd.queue)) AS n`;

/**
 * Give runs back at once without consuming an attempt (a draining worker).
 * $1 ids uuid[], $2 lease tokens uuid[]
 */
export const RELEASE_RUNS = `
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS x(id, lease_token)
), upd AS (
  UPDATE outlast.runs r
  SET status = 'queued', available_at = now(), lease_owner = NULL, lease_token = NULL,
      updated_at = now()
  FROM x WHERE r.id = x.id AND r.lease_token = x.lease_token
  RETURNING r.id, r.queue
)
SELECT upd.id FROM upd, LATERAL (SELECT pg_notify('outlast_ready', upd.queue)) AS n`;

/**
 * Cancel: a run that is not executing ends at once; a running one is flagged and its
 * worker told, and it stops at its next step boundary.
 * $1 id
 */
export const CANCEL_RUN = `
WITH upd AS (
  UPDATE outlast.runs
  SET status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END,
      finished_at = CASE WHEN status = 'running' THEN finished_at ELSE now() END,
      lease_owner = CASE WHEN status = 'running' THEN lease_owner ELSE NULL END,
      cancel_requested = true, updated_at = now()
  WHERE id = $1 AND status IN ('queued', 'running', 'waiting', 'throttled')
  RETURNING ${RUN_COLUMNS}
)
SELECT upd.* FROM upd,
  LATERAL (SELECT pg_notify(CASE WHEN upd.status = 'running' THEN 'outlast_cancel' ELSE 'outlast_done' END,
    upd.id::text)) AS n`;

/**
 * Publish the run's `call`-th ctx.progress. Calls of one execution may land out of order
 * (Promise.all): the latest call's data wins. $1 id, $2 lease token, $3 progress jsonb,
 * $4 int call number (1-based, counted from the top of the agent)
 */
export const SET_PROGRESS = `
UPDATE outlast.runs
SET progress = CASE WHEN $4::int > progress_calls THEN $3::jsonb ELSE progress END,
    progress_calls = greatest(progress_calls, $4::int), updated_at = now()
WHERE id = $1 AND lease_token = $2 AND status = 'running'
RETURNING cancel_requested`;

/**
 * Finish a batch of runs and claim as many new ones in the same round trip: a finishing
 * run hands its slot straight to the next. One statement per batch instead of two halved
 * the round trips of short runs (measured: 895 → see bench/core.ts).
 * Returns one row: `finished` (ids) and `claimed` (runs, as JSON).
 * $1..$5 the finish batch as FINISH_RUNS, $6 text[] queues, $7 int claim limit, $8 worker id,
 * $9 text[] the worker's agents, $10 int[] their maxAttempts
 */
export const FINISH_AND_CLAIM = finishAndClaim(readyRuns("$6", "$7"), "$9", "$10");

/**
 * FINISH_AND_CLAIM with weighted fairness between tenants (see fairReadyRuns).
 * $1..$8 as FINISH_AND_CLAIM, $9 tenants text[], $10 weights float8[],
 * $11 runs each tenant runs now int[], $12 weight of unlisted tenants float8, $13 text[] the
 * worker's agents, $14 int[] their maxAttempts
 */
export const FINISH_AND_CLAIM_FAIR = finishAndClaim(
  fairReadyRuns("$6", "$7", "$9", "$10", "$11", "$12"),
  "$13",
  "$14",
);

function finishAndClaim(ready: string, agents: string, maxAttempts: string): string {
  return `
${FINISH_CTES}, note AS (
  SELECT pg_notify('outlast_done', string_agg(id::text, ',')) FROM upd HAVING count(*) > 0
), c AS (${ready}), claimed AS (
  ${LEASE("$8", agents, maxAttempts)}
)
SELECT
  (SELECT coalesce(json_agg(upd.id), '[]'::json) FROM upd) AS finished,
  (SELECT coalesce(json_agg(claimed), '[]'::json) FROM claimed) AS claimed,
  (SELECT count(*)::int FROM note) AS notified,
  (SELECT count(*)::int FROM parents) AS parents_woken`;
}

/**
 * Park runs that wait (sleep, signal, child runs), in one statement for a batch: each gives
 * up its lease and holds no worker slot. A parked run is no longer failing: the error of an
 * earlier attempt is cleared. Ready at `until` (null: only an event wakes it),
 * or at once when a wake-up arrived since the claim (`wakeups` moved past what the worker
 * saw; see migration 003).
 * $1 ids uuid[], $2 lease tokens uuid[], $3 until timestamptz[] (null = none),
 * $4 waiting_for JSON text[], $5 wakeups at claim int[]
 */
export const PARK_RUNS = `
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::int[])
    AS x(id, lease_token, until, waiting_for, wakeups)
), upd AS (
  UPDATE outlast.runs r
  SET status = 'waiting', waiting_for = x.waiting_for::jsonb, error = NULL,
      available_at = CASE WHEN r.wakeups <> x.wakeups THEN now()
                          ELSE coalesce(x.until, 'infinity'::timestamptz) END,
      lease_owner = NULL, lease_token = NULL, updated_at = now()
  FROM x WHERE r.id = x.id AND r.lease_token = x.lease_token
  RETURNING r.id, r.queue, r.available_at
)
SELECT upd.id, upd.available_at FROM upd
LEFT JOIN LATERAL (SELECT pg_notify('outlast_ready', upd.queue) WHERE upd.available_at <= now()) AS n
  ON true`;

/**
 * How many ms until the earliest parked or delayed run of these queues becomes ready (by
 * the database's clock), so an idle worker wakes for it on time. Only idle workers ask,
 * so it reads runs_ready_idx rather than have an index of its own: a (queue, available_at)
 * index tempted the planner into serving claims from it with a sort of every ready run
 * (45 ms per claim at 10k ready runs instead of ~1 ms). $1 text[] queues
 */
export const NEXT_DUE = `
SELECT (extract(epoch FROM min(available_at) - now()) * 1000)::float8 AS ms FROM outlast.runs
WHERE queue = ANY($1::text[]) AND status IN ('queued', 'waiting', 'throttled')
  AND available_at > now() AND available_at < 'infinity'::timestamptz`;

/**
 * Requeue a failed run with its journal intact (after a fix is deployed). Terminal step
 * failures after the last good step are dropped so the failed step runs again. A traced
 * run gets a new span id: its failed run span was emitted already, and the resumed run's
 * is another span of the same trace (docs/tracing.md).
 * $1 id
 */
export const RESUME_RUN = `
WITH upd AS (
  UPDATE outlast.runs
  SET status = 'queued', available_at = now(), attempt = 0, new_attempt = true, error = NULL,
      finished_at = NULL, cancel_requested = false, updated_at = now(),
      span_id = CASE WHEN trace_id IS NULL THEN NULL
                     ELSE left(replace(gen_random_uuid()::text, '-', ''), 16) END
  WHERE id = $1 AND status = 'failed'
  RETURNING ${RUN_COLUMNS}
), drop_failed AS (
  DELETE FROM outlast.steps s
  USING upd
  WHERE s.run_id = upd.id AND s.status = 'failed'
    AND s.seq > coalesce((SELECT max(seq) FROM outlast.steps g
                          WHERE g.run_id = upd.id AND g.status = 'succeeded'), 0)
  RETURNING s.seq
)
SELECT upd.*, (SELECT count(*)::int FROM drop_failed) AS dropped_steps
FROM upd, LATERAL (SELECT pg_notify('outlast_ready', upd.queue)) AS n`;

/**
 * The state of child runs, for a parent deciding whether to wait. $1 child ids uuid[]
 */
export const CHILD_STATES = `
SELECT id, status, output, error FROM outlast.runs WHERE id = ANY($1::uuid[])`;
