-- 006: step.started events. A step's journal row now exists from the moment the step
-- starts: status 'running' (besides 'succeeded' | 'failed'), and the row becomes final
-- when the step ends. Replay reads only final rows, so a 'running' row is a step that was
-- interrupted (its attempt crashed, lost its lease or failed): the next attempt executes
-- it again and takes the row over.
--
-- The engine does not pay an extra write per step for this: the 'running' row is written
-- lazily (it rides along with the next journal flush, or goes alone after a short delay),
-- and when the step ends before it was written the step is inserted final at once. Either
-- way the trigger below writes exactly one step.started and one step.finished event per
-- execution of a step, started first:
--
--   INSERT running                      -> step.started
--   INSERT final                        -> step.started, step.finished
--   UPDATE running -> final, same claim -> step.finished
--   UPDATE running -> running, new claim (re-execution after a crash) -> step.started
--   UPDATE running -> final, new claim  -> step.started, step.finished
--
-- Updates that change neither status nor claim (a retried write finding its own row) fire
-- nothing (the WHEN clause). Event types are now those of 004 plus step.started.

CREATE OR REPLACE FUNCTION outlast.steps_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s integer;
  base jsonb;
BEGIN
  PERFORM outlast.lock_run_events(NEW.run_id);
  s := coalesce((SELECT max(e.seq) FROM outlast.events e WHERE e.run_id = NEW.run_id), 0);
  base := jsonb_build_object('seq', NEW.seq, 'name', NEW.name, 'kind', NEW.kind,
    'attempt', NEW.attempt, 'started_at', NEW.started_at);
  IF TG_OP = 'INSERT' OR NEW.status = 'running' OR OLD.lease_token <> NEW.lease_token THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.run_id, s, 'step.started', base);
  END IF;
  IF NEW.status <> 'running' THEN
    s := s + 1;
    INSERT INTO outlast.events (run_id, seq, type, data)
    VALUES (NEW.run_id, s, 'step.finished',
      base || jsonb_build_object('status', NEW.status, 'finished_at', NEW.finished_at)
      || CASE WHEN NEW.error IS NULL THEN '{}'::jsonb
              ELSE jsonb_build_object('error', NEW.error - 'stack') END);
  END IF;
  PERFORM outlast.notify_event(NEW.run_id);
  RETURN NULL;
END $$;

CREATE TRIGGER steps_events_update AFTER UPDATE ON outlast.steps
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.lease_token IS DISTINCT FROM NEW.lease_token)
  EXECUTE FUNCTION outlast.steps_events();

-- A running step has no end yet.
ALTER TABLE outlast.steps ALTER COLUMN finished_at DROP NOT NULL;
