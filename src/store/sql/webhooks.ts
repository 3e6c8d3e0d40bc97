/**
 * SQL for webhook endpoints, the delivery outbox and its log (migration 004). Events reach
 * the outbox by the fan-out, which reads outlast.events in (txid, id) order behind a cursor.
 *
 * Projects (migration 015): a subscription or a run's webhook belongs to a project and
 * receives only that project's events; the config's notifiers (project NULL) are the
 * operator's and receive every project's. The API reads a project's endpoints and
 * deliveries; the notifiers' deliveries show to the default project, the operator's.
 */

const ENDPOINT_COLUMNS = `id, kind, url, event_types, agents, run_id, config_key, description,
  created_at, disabled_at`;

/**
 * $1 id, $2 url, $3 secret, $4 event types text[], $5 agents text[]|null, $6 description,
 * $7 project
 */
export const INSERT_SUBSCRIPTION = `
INSERT INTO outlast.webhook_endpoints (id, kind, url, secret, event_types, agents, description,
  project)
VALUES ($1, 'webhook', $2, $3, $4::text[], $5::text[], $6, $7)
RETURNING ${ENDPOINT_COLUMNS}`;

/**
 * Project subscriptions, newest first (ids are UUIDv7). $1 cursor id|null, $2 limit,
 * $3 project
 */
export const LIST_SUBSCRIPTIONS = `
SELECT ${ENDPOINT_COLUMNS} FROM outlast.webhook_endpoints
WHERE project = $3 AND kind = 'webhook' AND run_id IS NULL AND disabled_at IS NULL
  AND ($1::uuid IS NULL OR id < $1)
ORDER BY id DESC LIMIT $2`;

/** $1 id, $2 project */
export const GET_SUBSCRIPTION = `
SELECT ${ENDPOINT_COLUMNS} FROM outlast.webhook_endpoints
WHERE id = $1 AND project = $2 AND kind = 'webhook' AND run_id IS NULL AND disabled_at IS NULL`;

/** Deliveries not yet made are abandoned with the endpoint. $1 id, $2 project */
export const DISABLE_SUBSCRIPTION = `
WITH ep AS (
  UPDATE outlast.webhook_endpoints SET disabled_at = now()
  WHERE id = $1 AND project = $2 AND kind = 'webhook' AND run_id IS NULL AND disabled_at IS NULL
  RETURNING id
), dropped AS (
  UPDATE outlast.webhook_deliveries d
  SET status = 'failed', last_error = 'OUTLAST_WEBHOOK_DISABLED: the subscription was deleted',
      updated_at = now()
  FROM ep WHERE d.endpoint_id = ep.id AND d.status = 'pending'
  RETURNING d.id
)
SELECT ep.id, (SELECT count(*)::int FROM dropped) AS dropped FROM ep`;

/**
 * Serialises a per-run webhook's backfill with the fan-out (see attachRunWebhook): the
 * statement after this one sees every event the fan-out has passed.
 */
export const LOCK_CURSOR = `SELECT event_id FROM outlast.webhook_cursor WHERE id = 1 FOR UPDATE`;

/**
 * A per-run webhook, once per (run, url), in the run's project. $1 id, $2 url, $3 secret,
 * $4 types, $5 run id
 */
export const UPSERT_RUN_WEBHOOK = `
INSERT INTO outlast.webhook_endpoints (id, kind, url, secret, event_types, run_id, project)
SELECT $1, 'webhook', $2, $3, $4::text[], r.id, r.project FROM outlast.runs r WHERE r.id = $5
ON CONFLICT (run_id, url) WHERE run_id IS NOT NULL DO UPDATE SET event_types = EXCLUDED.event_types
RETURNING ${ENDPOINT_COLUMNS}`;

/** Deliveries for the events a run already has. $1 endpoint id, $2 run id */
export const BACKFILL_RUN_WEBHOOK = `
INSERT INTO outlast.webhook_deliveries (id, endpoint_id, event_id, run_id, event_seq, event_type)
SELECT gen_random_uuid(), ep.id, e.id, e.run_id, e.seq, e.type
FROM outlast.webhook_endpoints ep
JOIN outlast.events e ON e.run_id = ep.run_id
WHERE ep.id = $1 AND e.run_id = $2 AND outlast.event_matches(ep.event_types, e.type)
ON CONFLICT (endpoint_id, event_id) DO NOTHING`;

/**
 * A notifier of the config (slack, email) as an endpoint, so its messages go through the
 * same outbox, retries and log. $1 id, $2 config key, $3 kind, $4 event types text[],
 * $5 agents text[]|null
 */
export const UPSERT_NOTIFIER = `
INSERT INTO outlast.webhook_endpoints (id, kind, event_types, agents, config_key)
VALUES ($1, $3, $4::text[], $5::text[], $2)
ON CONFLICT (config_key) DO UPDATE
  SET kind = EXCLUDED.kind, event_types = EXCLUDED.event_types, agents = EXCLUDED.agents,
      disabled_at = NULL
RETURNING id`;

/** Notifiers no longer in the config stop receiving events. $1 config keys still present */
export const DISABLE_OTHER_NOTIFIERS = `
UPDATE outlast.webhook_endpoints SET disabled_at = now()
WHERE config_key IS NOT NULL AND NOT (config_key = ANY($1::text[])) AND disabled_at IS NULL`;

/**
 * Fan-out: a batch of events past the cursor becomes deliveries for every endpoint that
 * wants them, and the cursor moves past the batch, in one statement. Only events of
 * transactions older than every running one are read (txid < the snapshot's xmin): no
 * event can later commit behind the cursor. The FOR UPDATE on the cursor makes concurrent
 * fan-outs (one per deliverer process) take turns.
 * $1 batch size
 */
export const FAN_OUT = `
WITH cur AS (
  SELECT txid, event_id FROM outlast.webhook_cursor WHERE id = 1 FOR UPDATE
), batch AS (
  SELECT e.id, e.run_id, e.seq, e.type, e.txid, e.at FROM outlast.events e, cur
  WHERE (e.txid, e.id) > (cur.txid, cur.event_id)
    AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY e.txid, e.id
  LIMIT $1
), ins AS (
  INSERT INTO outlast.webhook_deliveries (id, endpoint_id, event_id, run_id, event_seq, event_type)
  SELECT gen_random_uuid(), ep.id, b.id, b.run_id, b.seq, b.type
  FROM batch b
  LEFT JOIN outlast.runs r ON r.id = b.run_id
  JOIN outlast.webhook_endpoints ep
    ON ep.disabled_at IS NULL
   -- a subscription gets the events from its creation on; a run's webhook all of its run's
   AND ((ep.run_id IS NULL AND ep.created_at <= b.at) OR ep.run_id = b.run_id)
   AND outlast.event_matches(ep.event_types, b.type)
   AND (ep.agents IS NULL OR r.agent = ANY(ep.agents))
   AND (ep.project IS NULL OR ep.project = r.project)
  ON CONFLICT (endpoint_id, event_id) DO NOTHING
  RETURNING 1
), last AS (
  SELECT txid, id FROM batch ORDER BY txid DESC, id DESC LIMIT 1
), moved AS (
  UPDATE outlast.webhook_cursor c SET txid = last.txid, event_id = last.id
  FROM last WHERE c.id = 1
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM batch) AS events,
  (SELECT count(*)::int FROM ins) AS deliveries,
  (SELECT count(*)::int FROM moved) AS moved`;

/**
 * Claim due deliveries of the endpoint kinds this process can send. The claim pushes
 * next_attempt_at out by the lease: a deliverer that dies mid-attempt leaves the delivery
 * to be claimed again when the lease lapses. `attempts` is the fencing token.
 * $1 limit, $2 lease ms, $3 kinds text[]
 */
export const CLAIM_DELIVERIES = `
WITH c AS (
  SELECT d.id FROM outlast.webhook_deliveries d
  JOIN outlast.webhook_endpoints ep ON ep.id = d.endpoint_id
  WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND ep.kind = ANY($3::text[])
  ORDER BY d.next_attempt_at
  LIMIT $1
  FOR UPDATE OF d SKIP LOCKED
), upd AS (
  UPDATE outlast.webhook_deliveries d
  SET attempts = d.attempts + 1, next_attempt_at = now() + ($2::int * interval '1 millisecond'),
      updated_at = now()
  FROM c WHERE d.id = c.id
  RETURNING d.id, d.endpoint_id, d.run_id, d.event_seq, d.event_type, d.attempts, d.attempts_base
)
SELECT upd.id, upd.attempts, upd.attempts_base, upd.event_type, upd.run_id, upd.event_seq,
  ep.kind, ep.url, ep.secret, ep.config_key, ep.disabled_at,
  e.data AS event_data, e.at AS event_at,
  r.agent, r.status AS run_status, r.created_at AS run_created_at, r.started_at AS run_started_at,
  r.finished_at AS run_finished_at, r.error AS run_error, r.trace_id AS run_trace_id,
  r.span_id AS run_span_id
FROM upd
JOIN outlast.webhook_endpoints ep ON ep.id = upd.endpoint_id
LEFT JOIN outlast.events e ON e.run_id = upd.run_id AND e.seq = upd.event_seq
LEFT JOIN outlast.runs r ON r.id = upd.run_id`;

/**
 * Record an attempt and its outcome. Fenced by the attempt number: the result of an
 * attempt whose lease lapsed (and was claimed again) changes only the log.
 * $1 delivery id, $2 attempt, $3 outcome 'delivered'|'retry'|'failed', $4 retry delay ms,
 * $5 status code|null, $6 error|null, $7 duration ms, $8 response excerpt|null
 */
export const RECORD_ATTEMPT = `
WITH upd AS (
  UPDATE outlast.webhook_deliveries
  SET status = CASE $3::text WHEN 'delivered' THEN 'delivered' WHEN 'failed' THEN 'failed'
                             ELSE 'pending' END,
      next_attempt_at = CASE WHEN $3::text = 'retry'
                             THEN now() + ($4::int * interval '1 millisecond')
                             ELSE next_attempt_at END,
      last_status_code = $5::int, last_error = $6::text,
      delivered_at = CASE WHEN $3::text = 'delivered' THEN now() END, updated_at = now()
  WHERE id = $1 AND attempts = $2 AND status = 'pending'
  RETURNING id
), log AS (
  INSERT INTO outlast.webhook_attempts (delivery_id, attempt, duration_ms, status_code, error,
    response_excerpt)
  VALUES ($1, $2, $7, $5::int, $6::text, $8::text)
  ON CONFLICT (delivery_id, attempt) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM upd) AS updated`;

/** When the next pending delivery falls due, in ms (null: none). $1 kinds text[] */
export const NEXT_DELIVERY_DUE = `
SELECT (extract(epoch FROM min(d.next_attempt_at) - now()) * 1000)::float8 AS ms
FROM outlast.webhook_deliveries d
JOIN outlast.webhook_endpoints ep ON ep.id = d.endpoint_id
WHERE d.status = 'pending' AND ep.kind = ANY($1::text[])`;

/** An endpoint `ep` the project sees: its own, and the notifiers for the default project. */
const IN_PROJECT = (project: string) =>
  `(ep.project = ${project} OR (ep.project IS NULL AND ${project} = 'default'))`;

const DELIVERY_COLUMNS = `d.id, d.endpoint_id, ep.kind, ep.url, ep.config_key, d.run_id,
  d.event_seq, d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
  d.last_error, d.created_at, d.updated_at, d.delivered_at`;

/**
 * The delivery log, newest first (ids are random: ordered by created_at, id).
 * $1 endpoint id|null, $2 run id|null, $3 status|null, $4 limit, $5 cursor created_at|null,
 * $6 cursor id|null, $7 project
 */
export const LIST_DELIVERIES = `
SELECT ${DELIVERY_COLUMNS}
FROM outlast.webhook_deliveries d JOIN outlast.webhook_endpoints ep ON ep.id = d.endpoint_id
WHERE ${IN_PROJECT("$7")}
  AND ($1::uuid IS NULL OR d.endpoint_id = $1)
  AND ($2::uuid IS NULL OR d.run_id = $2)
  AND ($3::text IS NULL OR d.status = $3)
  AND ($5::timestamptz IS NULL OR (d.created_at, d.id) < ($5::timestamptz, $6::uuid))
ORDER BY d.created_at DESC, d.id DESC
LIMIT $4`;

/** $1 delivery id, $2 project */
export const GET_DELIVERY = `
SELECT ${DELIVERY_COLUMNS}
FROM outlast.webhook_deliveries d JOIN outlast.webhook_endpoints ep ON ep.id = d.endpoint_id
WHERE d.id = $1 AND ${IN_PROJECT("$2")}`;

/** $1 delivery id */
export const LIST_ATTEMPTS = `
SELECT attempt, at, duration_ms, status_code, error, response_excerpt
FROM outlast.webhook_attempts WHERE delivery_id = $1 ORDER BY attempt`;

/**
 * Redeliver: due now, with a fresh retry budget (earlier attempts stay in the log).
 * $1 delivery id
 */
export const REDELIVER = `
WITH upd AS (
  UPDATE outlast.webhook_deliveries
  SET status = 'pending', next_attempt_at = now(), attempts_base = attempts, updated_at = now(),
      delivered_at = NULL
  WHERE id = $1
  RETURNING id
)
SELECT upd.id FROM upd, LATERAL (SELECT pg_notify('outlast_webhooks', upd.id::text)) AS n`;

/** $1 name */
export const GET_SECRET = `SELECT secret FROM outlast.webhook_secrets WHERE name = $1`;

/** Keeps an existing secret. $1 name, $2 secret */
export const INSERT_SECRET = `
INSERT INTO outlast.webhook_secrets (name, secret) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING`;

/** Sets the secret (configured). $1 name, $2 secret */
export const SET_SECRET = `
INSERT INTO outlast.webhook_secrets (name, secret) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET secret = EXCLUDED.secret`;

/** What a notifier message says about a run. $1 run id */
export const RUN_COST = `
SELECT coalesce(sum(cost_usd), 0)::float8 AS cost_usd, count(*)::int AS calls
FROM outlast.gateway_calls WHERE run_id = $1::text`;

/** Wakes deliverers (a redelivery, a new subscription's first events). */
export const WEBHOOKS_CHANNEL = "outlast_webhooks";
