-- 004: run events (SSE, webhooks, notifiers) and the webhook outbox.
--
-- An event is written by a trigger in the same transaction as the change it describes, so
-- there is no event without its change and no change without its event, whichever
-- statement made the change (the engine's SQL in src/store/sql does not know events exist).
--
-- Per-run sequence numbers are gap-free and commit in order: every writer of a run's events
-- first takes a transaction-scoped advisory lock on the run, then numbers its events
-- max(seq) + 1, .... The lock is held to commit, so the next writer sees the previous
-- writer's events before it numbers its own, and a reader never sees seq n+1 without n.
-- A rolled-back writer consumes no numbers. An advisory lock lives in shared memory only:
-- unlike a counter column on runs it adds no row version per step (see the measurements
-- in src/events/ARCHITECTURE.md).

CREATE TABLE outlast.events (
  run_id uuid NOT NULL,
  seq integer NOT NULL,
  -- run.queued | run.running | run.waiting | run.throttled | run.succeeded | run.failed |
  -- run.cancelled | run.cancel_requested | run.progress | step.finished
  type text NOT NULL,
  data jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  -- Global identity, referenced by webhook deliveries.
  id bigint GENERATED ALWAYS AS IDENTITY,
  -- The writing transaction. The webhook fan-out reads events in (txid, id) order and only
  -- those of transactions older than every running one (pg_snapshot_xmin): an id order
  -- alone would skip an event whose transaction commits after a later id's.
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX events_outbox_idx ON outlast.events (txid, id);

-- Drops the top-level keys whose value is null (jsonb_strip_nulls would also strip nulls
-- inside a run's output).
CREATE FUNCTION outlast.jsonb_compact(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM jsonb_each(j) AS t(k, v)
  WHERE v <> 'null'::jsonb
$$;

-- Key of the per-run advisory lock: (namespace "OLEV", hash of the run id).
CREATE FUNCTION outlast.lock_run_events(p_run uuid) RETURNS void LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock(1330398550, hashtext(p_run::text))
$$;

-- Status changes, cancel requests and progress of a run. Row-level with a WHEN clause on
-- the UPDATE trigger: updates that change none of these (wake-ups, heartbeats of the
-- waiting machinery) cost no function call.
CREATE FUNCTION outlast.runs_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s integer;
  prev text;
BEGIN
  PERFORM outlast.lock_run_events(NEW.id);
  s := coalesce((SELECT max(e.seq) FROM outlast.events e WHERE e.run_id = NEW.id), 0);
  prev := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
  IF prev IS DISTINCT FROM NEW.status THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data) VALUES (NEW.id, s, 'run.' || NEW.status,
      outlast.jsonb_compact(jsonb_build_object(
        'status', NEW.status,
        'previous_status', prev,
        'agent', NEW.agent,
        'attempt', NEW.attempt,
        'output', CASE WHEN NEW.status = 'succeeded' THEN NEW.output END,
        -- errors without their stack, as the API shows them
        'error', CASE WHEN NEW.status <> 'succeeded' THEN NEW.error - 'stack' END,
        'available_at', CASE WHEN NEW.status IN ('queued', 'throttled', 'waiting')
                              AND NEW.available_at > now() AND NEW.available_at < 'infinity'
                             THEN NEW.available_at END,
        'waiting_for', CASE WHEN NEW.status = 'waiting' THEN NEW.waiting_for END,
        'started_at', NEW.started_at,
        'finished_at', NEW.finished_at)));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.cancel_requested AND NOT OLD.cancel_requested
     AND NEW.status = 'running' THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.id, s, 'run.cancel_requested', jsonb_build_object('status', NEW.status));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.progress IS DISTINCT FROM OLD.progress
     AND NEW.progress IS NOT NULL THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.id, s, 'run.progress', jsonb_build_object('progress', NEW.progress));
  END IF;
  PERFORM pg_notify('outlast_events', NEW.id::text);
  RETURN NULL;
END $$;

CREATE TRIGGER runs_events_insert AFTER INSERT ON outlast.runs
  FOR EACH ROW EXECUTE FUNCTION outlast.runs_events();
CREATE TRIGGER runs_events_update AFTER UPDATE ON outlast.runs
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.progress IS DISTINCT FROM NEW.progress
        OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested)
  EXECUTE FUNCTION outlast.runs_events();

-- Journaled steps: one call per statement (the journal is group-committed, so one call
-- covers every step of the batch), reading the inserted rows from the transition table.
-- A retried journal write that finds its own row is an UPDATE, not an INSERT: no
-- duplicate event. Locks are taken in run id order so two batches cannot deadlock.
CREATE FUNCTION outlast.steps_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM outlast.lock_run_events(r.run_id)
  FROM (SELECT DISTINCT run_id FROM new_steps ORDER BY run_id) r;
  INSERT INTO outlast.events (run_id, seq, type, data)
  SELECT n.run_id,
    coalesce((SELECT max(e.seq) FROM outlast.events e WHERE e.run_id = n.run_id), 0)
      + row_number() OVER (PARTITION BY n.run_id ORDER BY n.seq),
    'step.finished',
    jsonb_build_object(
      'seq', n.seq, 'name', n.name, 'kind', n.kind, 'status', n.status,
      'attempt', n.attempt, 'started_at', n.started_at, 'finished_at', n.finished_at)
      || CASE WHEN n.error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', n.error - 'stack') END
  FROM new_steps n;
  PERFORM pg_notify('outlast_events', r.run_id::text)
  FROM (SELECT DISTINCT run_id FROM new_steps) r;
  RETURN NULL;
END $$;

CREATE TRIGGER steps_events AFTER INSERT ON outlast.steps
  REFERENCING NEW TABLE AS new_steps
  FOR EACH STATEMENT EXECUTE FUNCTION outlast.steps_events();

-- ------------------------------------------------------------------ webhooks

-- Where events go: project subscriptions (run_id NULL), per-run webhooks (run_id set),
-- and the notifiers of the config (kind slack | email, config_key set).
CREATE TABLE outlast.webhook_endpoints (
  id uuid PRIMARY KEY,
  -- webhook | slack | email
  kind text NOT NULL,
  url text,
  -- whsec_<base64>: the Standard Webhooks signing secret (webhooks only)
  secret text,
  -- exact types, "run.*", "step.*" or "*"
  event_types text[] NOT NULL,
  -- null: every agent
  agents text[],
  run_id uuid,
  config_key text UNIQUE,
  description text,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);
CREATE UNIQUE INDEX webhook_endpoints_run_idx ON outlast.webhook_endpoints (run_id, url)
  WHERE run_id IS NOT NULL;

-- How far the fan-out has read the events, as a (txid, id) position.
CREATE TABLE outlast.webhook_cursor (
  id integer PRIMARY KEY CHECK (id = 1),
  txid xid8 NOT NULL,
  event_id bigint NOT NULL
);
INSERT INTO outlast.webhook_cursor (id, txid, event_id) VALUES (1, '0'::xid8, 0);

-- The outbox: one row per (endpoint, event). A claimed delivery's next_attempt_at is its
-- lease: a deliverer that dies mid-delivery leaves it to be claimed again when it lapses.
CREATE TABLE outlast.webhook_deliveries (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL,
  event_id bigint NOT NULL,
  run_id uuid NOT NULL,
  event_seq integer NOT NULL,
  event_type text NOT NULL,
  -- pending | delivered | failed
  status text NOT NULL DEFAULT 'pending',
  -- attempts made; also the fencing token of the current claim
  attempts integer NOT NULL DEFAULT 0,
  -- attempts before the last redelivery, not counted against the retry budget
  attempts_base integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON outlast.webhook_deliveries (next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_run_idx ON outlast.webhook_deliveries (run_id);

-- The delivery log: every attempt and what came of it.
CREATE TABLE outlast.webhook_attempts (
  delivery_id uuid NOT NULL,
  attempt integer NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL,
  status_code integer,
  -- null on success; else an OUTLAST_WEBHOOK_* code and message
  error text,
  response_excerpt text,
  PRIMARY KEY (delivery_id, attempt)
);

-- Secrets the deployment signs with: "default" signs per-run webhooks that bring no secret
-- of their own (created on first use unless webhooks.secret is configured).
CREATE TABLE outlast.webhook_secrets (
  name text PRIMARY KEY,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
