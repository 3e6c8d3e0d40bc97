-- 010: `runs.attempt` counts attempts begun, and progress is published once per call.
--
-- An attempt is one execution begun after n errored attempts: a first-try success shows
-- attempt 1, and continuing after a wait, a throttle, a drain or a lease loss stays in
-- the same attempt. Until now the column counted the attempts that ended in an error, so
-- a finished run showed one less than it made (attempts: 0 on a first-try success).
-- `new_attempt` says that the next claim begins an attempt: set at submit, by a retry and
-- by resume; the claim adds it to `attempt` and clears it.
ALTER TABLE outlast.runs ADD COLUMN new_attempt boolean NOT NULL DEFAULT true;

-- How many ctx.progress calls of the run were published. A replay (after a sleep, a signal,
-- a crash) calls them again from the top; the engine skips the first `progress_calls`, so
-- progress never goes backwards and subscribers get no duplicates. A counter rather than a
-- step: it takes no sequence number, so journals of runs in flight still line up.
ALTER TABLE outlast.runs ADD COLUMN progress_calls integer NOT NULL DEFAULT 0;

-- Runs written before this migration. A claimed run is in an attempt it began: one more
-- than its errors, except a run queued again after a failed attempt (claimed before, error
-- kept), whose next claim begins the next one. Runs never claimed begin at their first.
-- Their progress_calls stay 0: a run in flight publishes its progress once more.
UPDATE outlast.runs SET attempt = attempt + 1, new_attempt = false
WHERE claims > 0 AND NOT (status = 'queued' AND error IS NOT NULL);

COMMENT ON COLUMN outlast.runs.attempt IS
  'attempts begun: 1 during and after the first; waits, throttles, drains and lease losses stay in the same attempt';

-- Every held run says why (runs.waiting_for {kind, reason, …}, src/engine/waiting-for.ts):
-- a run's status events now carry it for throttled runs and runs queued for a retry too,
-- not only for waiting ones. The function is 004's with that one condition widened.
CREATE OR REPLACE FUNCTION outlast.run_updated_events() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF NEW.status IN ('queued', 'throttled', 'waiting') AND NEW.waiting_for IS NOT NULL THEN
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
