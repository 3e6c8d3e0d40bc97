-- 016: threads — sessions keyed by thread_id, one run at a time per thread, messages stored
-- once each, versions that reference them (issue 22; src/engine/threads/ARCHITECTURE.md).

-- One row per thread. `holder` is the run that holds the thread: the one non-terminal run
-- that is not queued behind it (null: idle). `last_run` is the newest run submitted on the
-- thread: a new run's id is made larger than it under the row lock, so the order runs start
-- in (id order) is the order they were submitted in, whichever API process took them.
CREATE TABLE outlast.threads (
  project text NOT NULL,
  id text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  holder uuid,
  last_run uuid,
  -- the current version (0: nothing written yet), its message count and state document
  version integer NOT NULL DEFAULT 0,
  message_count integer NOT NULL DEFAULT 0,
  state jsonb NOT NULL DEFAULT '{}'::jsonb,
  forked_from jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project, id)
);

-- Messages, once each: keyed by the hash of their JSON, so a version, a fork or a message
-- repeated word for word adds a reference (thread_entries), never a copy.
CREATE TABLE outlast.thread_messages (
  project text NOT NULL,
  hash uuid NOT NULL,
  message jsonb NOT NULL,
  PRIMARY KEY (project, hash)
);

-- A thread's transcript: position `seq` (1-based) holds message `hash`, added by `version`.
CREATE TABLE outlast.thread_entries (
  project text NOT NULL,
  thread_id text NOT NULL,
  seq integer NOT NULL,
  hash uuid NOT NULL,
  version integer NOT NULL,
  PRIMARY KEY (project, thread_id, seq)
);
-- Deleting a thread deletes the messages no other entry references.
CREATE INDEX thread_entries_hash_idx ON outlast.thread_entries (project, hash);

-- Versions: what each write made. Messages at version v are entries 1..message_count;
-- `state` is the whole document where the write changed it (null: as the version before).
-- (run_id, step_seq) makes a run's write idempotent: a replay after a crash between the
-- write and its journal row finds the version it made and writes nothing.
CREATE TABLE outlast.thread_versions (
  project text NOT NULL,
  thread_id text NOT NULL,
  version integer NOT NULL,
  kind text NOT NULL,
  run_id uuid,
  step_seq integer,
  message_count integer NOT NULL,
  state jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project, thread_id, version)
);
CREATE UNIQUE INDEX thread_versions_write_idx ON outlast.thread_versions (run_id, step_seq)
  WHERE run_id IS NOT NULL;

-- multitask_strategy interrupt/rollback marks the run it stops: {strategy, by}.
ALTER TABLE outlast.runs ADD COLUMN interrupt jsonb;

-- Runs queued behind their thread wait with available_at = infinity (status queued, kind
-- thread). The claim scan must not walk them: runs_ready_idx now holds only runs that some
-- time can make ready, and the claim statements say `available_at < 'infinity'` so the
-- planner may use it. (Runs parked with no deadline — a signal, a child — leave it too.)
DROP INDEX outlast.runs_ready_idx;
CREATE INDEX runs_ready_idx ON outlast.runs (queue, priority DESC, available_at, id)
  WHERE status IN ('queued', 'waiting', 'throttled') AND available_at < 'infinity'::timestamptz;
-- The runs queued behind each thread, in the order they start.
CREATE INDEX runs_thread_held_idx ON outlast.runs (thread_id, id)
  WHERE status = 'queued' AND available_at = 'infinity'::timestamptz;

-- A UUIDv7 greater than `prev`: the clock's milliseconds and random bits, or `prev` plus one
-- in its random tail when the clock has not moved past it.
CREATE FUNCTION outlast.uuidv7_after(prev uuid) RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  r text := md5(random()::text || clock_timestamp()::text);
  h text;
  tail bigint;
BEGIN
  h := lpad(to_hex(ms), 12, '0') || '7' || substr(r, 1, 3)
    || to_hex(8 + (get_byte(decode(substr(r, 4, 2), 'hex'), 0) % 4)) || substr(r, 6, 15);
  IF prev IS NULL OR h::uuid > prev THEN
    RETURN h::uuid;
  END IF;
  h := replace(prev::text, '-', '');
  tail := ('x' || lpad(substr(h, 21, 12), 16, '0'))::bit(64)::bigint + 1;
  RETURN (substr(h, 1, 20) || lpad(to_hex(tail), 12, '0'))::uuid;
END $$;

-- The reason a run queued behind its thread shows (runs.waiting_for).
CREATE FUNCTION outlast.thread_waiting_for(thread text, holder uuid) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('kind', 'thread',
    'reason', 'queued behind run ' || holder || ' on thread "' || thread
      || '": a thread runs one run at a time, in submit order',
    'waits', '[]'::jsonb, 'signals', '[]'::jsonb, 'until', NULL, 'thread_id', thread)
$$;

-- Submit a run on a thread (one call, one transaction): takes the thread's row lock
-- (creating the thread on first use), applies the multitask strategy, and inserts the run
-- ready when the thread is idle, else queued behind it. Returns the run id and what
-- happened: ready | held | busy (reject: nothing inserted; `id` is the holder) |
-- existing (the idempotency key's run).
-- p_run: {agent, queue, input_json, priority, tags, idempotency_key, max_attempts,
--         available_at, parent_run_id, agent_version}
CREATE FUNCTION outlast.thread_submit(p_project text, p_thread text, p_strategy text, p_run jsonb)
  RETURNS TABLE (id uuid, outcome text) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  t outlast.threads;
  h outlast.runs;
  new_id uuid;
  key text := p_run ->> 'idempotency_key';
BEGIN
  IF key IS NOT NULL THEN
    SELECT r.id INTO new_id FROM outlast.runs r
    WHERE r.project = p_project AND r.idempotency_key = key;
    IF FOUND THEN RETURN QUERY SELECT new_id, 'existing'::text; RETURN; END IF;
  END IF;
  IF p_strategy IN ('interrupt', 'rollback') THEN
    -- The holder's row before the thread's, the order its finish takes them in (a finish
    -- updates the run, then its trigger locks the thread): no deadlock with it.
    PERFORM 1 FROM outlast.runs r WHERE r.id = (SELECT x.holder FROM outlast.threads x
      WHERE x.project = p_project AND x.id = p_thread) FOR UPDATE;
  END IF;
  INSERT INTO outlast.threads AS x (project, id) VALUES (p_project, p_thread)
  ON CONFLICT (project, id) DO UPDATE SET updated_at = now()
  RETURNING * INTO t;
  IF t.holder IS NOT NULL AND p_strategy = 'reject' THEN
    RETURN QUERY SELECT t.holder, 'busy'::text; RETURN;
  END IF;
  new_id := outlast.uuidv7_after(t.last_run);
  IF t.holder IS NOT NULL AND p_strategy IN ('interrupt', 'rollback') THEN
    SELECT * INTO h FROM outlast.runs r WHERE r.id = t.holder FOR UPDATE;
    IF h.status = 'running' THEN
      -- Stops at its next step boundary; its end releases the thread (thread_run_ended).
      UPDATE outlast.runs r SET cancel_requested = true, updated_at = now(),
        interrupt = jsonb_build_object('strategy', p_strategy, 'by', new_id)
      WHERE r.id = h.id;
      PERFORM pg_notify('outlast_cancel', h.id::text);
    ELSIF h.status IN ('queued', 'waiting', 'throttled') THEN
      UPDATE outlast.runs r SET status = 'cancelled', finished_at = now(), updated_at = now(),
        cancel_requested = true, lease_owner = NULL,
        interrupt = jsonb_build_object('strategy', p_strategy, 'by', new_id)
      WHERE r.id = h.id;
      PERFORM pg_notify('outlast_done', h.id::text);
    END IF;
    SELECT * INTO t FROM outlast.threads x WHERE x.project = p_project AND x.id = p_thread;
  END IF;
  INSERT INTO outlast.runs (id, project, agent, queue, status, input, thread_id, priority, tags,
    idempotency_key, max_attempts, available_at, parent_run_id, agent_version, waiting_for)
  VALUES (new_id, p_project, p_run ->> 'agent', p_run ->> 'queue', 'queued',
    (p_run ->> 'input_json')::jsonb, p_thread, coalesce((p_run ->> 'priority')::int, 0),
    coalesce(p_run -> 'tags', '{}'::jsonb), key, (p_run ->> 'max_attempts')::int,
    CASE WHEN t.holder IS NULL THEN coalesce((p_run ->> 'available_at')::timestamptz, now())
         ELSE 'infinity'::timestamptz END,
    (p_run ->> 'parent_run_id')::uuid, p_run ->> 'agent_version',
    CASE WHEN t.holder IS NULL THEN NULL ELSE outlast.thread_waiting_for(p_thread, t.holder) END)
  ON CONFLICT (project, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
  IF NOT FOUND THEN
    SELECT r.id INTO new_id FROM outlast.runs r
    WHERE r.project = p_project AND r.idempotency_key = key;
    RETURN QUERY SELECT new_id, 'existing'::text; RETURN;
  END IF;
  UPDATE outlast.threads x SET last_run = new_id, holder = coalesce(x.holder, new_id)
  WHERE x.project = p_project AND x.id = p_thread;
  IF t.holder IS NULL THEN
    PERFORM pg_notify('outlast_ready', p_run ->> 'queue');
    RETURN QUERY SELECT new_id, 'ready'::text;
  ELSE
    RETURN QUERY SELECT new_id, 'held'::text;
  END IF;
END $$;

-- The thread to the version before `run` wrote (multitask_strategy rollback): the run's
-- versions and the entries they added go; messages no entry references any more go too.
CREATE FUNCTION outlast.thread_rollback(p_project text, p_thread text, p_run uuid)
  RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  first_v integer;
  base outlast.thread_versions;
  base_state jsonb;
BEGIN
  SELECT min(v.version) INTO first_v FROM outlast.thread_versions v
  WHERE v.project = p_project AND v.thread_id = p_thread AND v.run_id = p_run;
  IF first_v IS NULL THEN RETURN; END IF;
  SELECT * INTO base FROM outlast.thread_versions v
  WHERE v.project = p_project AND v.thread_id = p_thread AND v.version = first_v - 1;
  SELECT v.state INTO base_state FROM outlast.thread_versions v
  WHERE v.project = p_project AND v.thread_id = p_thread AND v.version < first_v
    AND v.state IS NOT NULL
  ORDER BY v.version DESC LIMIT 1;
  WITH gone AS (
    DELETE FROM outlast.thread_entries e
    WHERE e.project = p_project AND e.thread_id = p_thread
      AND e.seq > coalesce(base.message_count, 0)
    RETURNING e.hash
  )
  DELETE FROM outlast.thread_messages m USING (SELECT DISTINCT hash FROM gone) g
  WHERE m.project = p_project AND m.hash = g.hash
    AND NOT EXISTS (SELECT 1 FROM outlast.thread_entries e
                    WHERE e.project = p_project AND e.hash = g.hash);
  DELETE FROM outlast.thread_versions v
  WHERE v.project = p_project AND v.thread_id = p_thread AND v.version >= first_v;
  UPDATE outlast.threads x SET version = first_v - 1,
    message_count = coalesce(base.message_count, 0),
    state = coalesce(base_state, '{}'::jsonb), updated_at = now()
  WHERE x.project = p_project AND x.id = p_thread;
END $$;

-- A run of a thread ended (or, resumed, began again). The thread's row lock is taken first,
-- and each statement after it takes a fresh snapshot (PL/pgSQL, READ COMMITTED): a submit
-- that queued a run behind this one has committed by then, so its run is seen. Only then
-- is the next run, lowest id first, made ready — in the transaction of the finish itself.
CREATE FUNCTION outlast.thread_run_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  proj text := NEW.project;
  nxt uuid;
  held uuid;
BEGIN
  IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
    -- Only the holder hands the thread on; a run queued behind it that is cancelled does not
    -- lock the thread (no lock order to deadlock with a handoff to it).
    PERFORM 1 FROM outlast.threads x
    WHERE x.project = proj AND x.id = NEW.thread_id AND x.holder = NEW.id FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF NEW.status = 'cancelled' AND NEW.interrupt ->> 'strategy' = 'rollback' THEN
      PERFORM outlast.thread_rollback(proj, NEW.thread_id, NEW.id);
    END IF;
    LOOP
      SELECT r.id INTO nxt FROM outlast.runs r
      WHERE r.thread_id = NEW.thread_id AND r.status = 'queued'
        AND r.available_at = 'infinity'::timestamptz AND r.project = proj
      ORDER BY r.id LIMIT 1;
      EXIT WHEN nxt IS NULL;
      -- Re-checked under its row lock: a run cancelled meanwhile is skipped.
      UPDATE outlast.runs r SET available_at = now(), waiting_for = NULL, updated_at = now()
      WHERE r.id = nxt AND r.status = 'queued' AND r.available_at = 'infinity'::timestamptz
      RETURNING r.id INTO held;
      EXIT WHEN held IS NOT NULL;
    END LOOP;
    UPDATE outlast.threads x SET holder = nxt, updated_at = now()
    WHERE x.project = proj AND x.id = NEW.thread_id;
    IF nxt IS NOT NULL THEN PERFORM pg_notify('outlast_ready', NEW.queue); END IF;
  ELSE
    -- Resumed after it failed: it takes the thread if idle, else queues behind it.
    SELECT x.holder INTO held FROM outlast.threads x
    WHERE x.project = proj AND x.id = NEW.thread_id FOR UPDATE;
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF held IS NULL THEN
      UPDATE outlast.threads x SET holder = NEW.id, updated_at = now()
      WHERE x.project = proj AND x.id = NEW.thread_id;
    ELSIF held <> NEW.id THEN
      UPDATE outlast.runs r SET available_at = 'infinity'::timestamptz,
        waiting_for = outlast.thread_waiting_for(NEW.thread_id, held)
      WHERE r.id = NEW.id;
    END IF;
  END IF;
  RETURN NULL;
END $$;

-- Fires only for runs with a thread, and only when a run ends or ends no more: a run
-- without a thread pays the WHEN test and nothing else.
CREATE TRIGGER runs_thread_handoff AFTER UPDATE OF status ON outlast.runs
  FOR EACH ROW
  WHEN (NEW.thread_id IS NOT NULL AND
        (OLD.status IN ('succeeded', 'failed', 'cancelled'))
          IS DISTINCT FROM (NEW.status IN ('succeeded', 'failed', 'cancelled')))
  EXECUTE FUNCTION outlast.thread_run_ended();

-- A run stopped by a multitask strategy ends `cancelled` with OUTLAST_INTERRUPTED, by
-- whichever path it ends (the worker's finish at a step boundary, or at once).
CREATE FUNCTION outlast.run_interrupted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.error := jsonb_build_object('name', 'InterruptedError', 'code', 'OUTLAST_INTERRUPTED',
    'message', 'interrupted by run ' || (NEW.interrupt ->> 'by') || ' on thread "'
      || NEW.thread_id || '" (multitask_strategy ' || (NEW.interrupt ->> 'strategy') || ')',
    'retryable', false);
  RETURN NEW;
END $$;

CREATE TRIGGER runs_interrupted BEFORE UPDATE OF status ON outlast.runs
  FOR EACH ROW
  WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled' AND NEW.interrupt IS NOT NULL)
  EXECUTE FUNCTION outlast.run_interrupted();
