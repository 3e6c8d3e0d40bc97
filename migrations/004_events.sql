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

-- Runs someone streams right now (an SSE client of some API process). Events NOTIFY only
-- for these: PostgreSQL signals every listening backend of the database on every NOTIFY,
-- whatever its channel, so a NOTIFY per step would wake every worker's and API's listener
-- connection per step. Rows expire unless their process refreshes them (a process that
-- died leaves nothing behind for long); unlogged, as they are hints that need no WAL.
CREATE UNLOGGED TABLE outlast.event_watchers (
  run_id uuid NOT NULL,
  -- the watching process
  watcher text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (run_id, watcher)
);

-- NOTIFY outlast_events (payload: the run id) when someone watches the run.
CREATE FUNCTION outlast.notify_event(p_run uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM outlast.event_watchers w
             WHERE w.run_id = p_run AND w.expires_at > now()) THEN
    PERFORM pg_notify('outlast_events', p_run::text);
  END IF;
END $$;

-- Key of the per-run advisory lock: (namespace "OLEV", hash of the run id).
-- Deadlocks: a runs UPDATE holds the row lock, then takes this lock; a journal write takes
-- only this lock. Two transactions can deadlock only when both hold several runs' locks in
-- opposite orders (a journal batch and a finish batch of the same two runs at once): the
-- server detects it and the engine's retry wrapper retries the loser (40P01).
CREATE FUNCTION outlast.lock_run_events(p_run uuid) RETURNS void LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock(1330398550, hashtext(p_run::text))
$$;

-- A new run: its first event. Nothing else can write events of a run whose row is not
-- committed yet, and nobody can watch it (a stream of an unknown run is a 404), so it takes
-- no lock, reads no max(seq) and sends no NOTIFY: submits in batches of 1,000 pay one
-- insert per run.
CREATE FUNCTION outlast.run_inserted_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outlast.events (run_id, seq, type, data)
  VALUES (NEW.id, 1, 'run.' || NEW.status,
    jsonb_build_object('status', NEW.status, 'agent', NEW.agent, 'attempt', NEW.attempt)
    || CASE WHEN NEW.available_at > now() + interval '1 second'
            THEN jsonb_build_object('available_at', NEW.available_at) ELSE '{}'::jsonb END);
  RETURN NULL;
END $$;

-- Status changes, cancel requests and progress of a run. The UPDATE trigger has a WHEN
-- clause: updates that change none of these (wake-ups of the waiting machinery) cost no
-- function call. Keys without a value are left out of `data`.
CREATE FUNCTION outlast.run_updated_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s integer;
  d jsonb;
BEGIN
  PERFORM outlast.lock_run_events(NEW.id);
  s := coalesce((SELECT max(e.seq) FROM outlast.events e WHERE e.run_id = NEW.id), 0);
  IF OLD.status IS DISTINCT FROM NEW.status THEN
    d := jsonb_build_object('status', NEW.status, 'previous_status', OLD.status,
      'agent', NEW.agent, 'attempt', NEW.attempt);
    IF NEW.status = 'succeeded' AND NEW.output IS NOT NULL THEN
      d := d || jsonb_build_object('output', NEW.output);
    END IF;
    IF NEW.status <> 'succeeded' AND NEW.error IS NOT NULL THEN
      -- without its stack, as the API shows errors
      d := d || jsonb_build_object('error', NEW.error - 'stack');
    END IF;
    IF NEW.status IN ('queued', 'throttled', 'waiting')
       AND NEW.available_at > now() AND NEW.available_at < 'infinity' THEN
      d := d || jsonb_build_object('available_at', NEW.available_at);
    END IF;
    IF NEW.status = 'waiting' AND NEW.waiting_for IS NOT NULL THEN
      d := d || jsonb_build_object('waiting_for', NEW.waiting_for);
    END IF;
    IF NEW.started_at IS NOT NULL THEN
      d := d || jsonb_build_object('started_at', NEW.started_at);
    END IF;
    IF NEW.finished_at IS NOT NULL THEN
      d := d || jsonb_build_object('finished_at', NEW.finished_at);
    END IF;
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.id, s, 'run.' || NEW.status, d);
  END IF;
  IF NEW.cancel_requested AND NOT OLD.cancel_requested AND NEW.status = 'running' THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.id, s, 'run.cancel_requested', jsonb_build_object('status', NEW.status));
  END IF;
  IF NEW.progress IS DISTINCT FROM OLD.progress AND NEW.progress IS NOT NULL THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.id, s, 'run.progress', jsonb_build_object('progress', NEW.progress));
  END IF;
  PERFORM outlast.notify_event(NEW.id);
  RETURN NULL;
END $$;

CREATE TRIGGER runs_events_insert AFTER INSERT ON outlast.runs
  FOR EACH ROW EXECUTE FUNCTION outlast.run_inserted_event();
CREATE TRIGGER runs_events_update AFTER UPDATE ON outlast.runs
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.progress IS DISTINCT FROM NEW.progress
        OR OLD.cancel_requested IS DISTINCT FROM NEW.cancel_requested)
  EXECUTE FUNCTION outlast.run_updated_events();

-- Journaled steps. Row-level: measured on PostgreSQL with one step per statement, +0.12 ms
-- per journal write against +0.24 ms for a statement-level trigger reading a transition
-- table (whose tuplestore and plpgsql call cost more than they save); with 10 steps per
-- statement +0.055 ms a step against +0.068. A retried journal write that finds its own row
-- is an UPDATE (ON CONFLICT), not an INSERT: no duplicate event.
CREATE FUNCTION outlast.steps_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM outlast.lock_run_events(NEW.run_id);
  INSERT INTO outlast.events (run_id, seq, type, data)
  VALUES (NEW.run_id,
    coalesce((SELECT max(e.seq) FROM outlast.events e WHERE e.run_id = NEW.run_id), 0) + 1,
    'step.finished',
    jsonb_build_object(
      'seq', NEW.seq, 'name', NEW.name, 'kind', NEW.kind, 'status', NEW.status,
      'attempt', NEW.attempt, 'started_at', NEW.started_at, 'finished_at', NEW.finished_at)
      || CASE WHEN NEW.error IS NULL THEN '{}'::jsonb
              ELSE jsonb_build_object('error', NEW.error - 'stack') END);
  PERFORM outlast.notify_event(NEW.run_id);
  RETURN NULL;
END $$;

CREATE TRIGGER steps_events AFTER INSERT ON outlast.steps
  FOR EACH ROW EXECUTE FUNCTION outlast.steps_events();

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

-- Whether an event type passes an endpoint's filter: exact types, "run.*", "step.*", "*".
CREATE FUNCTION outlast.event_matches(patterns text[], t text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT t = ANY(patterns) OR '*' = ANY(patterns) OR (split_part(t, '.', 1) || '.*') = ANY(patterns)
$$;

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
