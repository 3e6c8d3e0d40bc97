-- 003: durable waits (sleep, signals, child runs), resume and agent versions.

-- What a waiting run waits for: {"waits": [{seq, kind, name, until?, child_id?}],
-- "signals": [names], "until": ISO time | null}. Cleared when the run is claimed (the
-- claim hands the old value to the worker so deadlines stay fixed across replays).
ALTER TABLE outlast.runs ADD COLUMN waiting_for jsonb;
-- Bumped by every event that may unblock the run (a child finishing, a signal arriving).
-- A worker parks a run only if the counter still has the value it saw at claim time;
-- otherwise the park makes the run ready at once. This closes the race between "checked:
-- child not finished" and "parked" without locks across statements.
ALTER TABLE outlast.runs ADD COLUMN wakeups integer NOT NULL DEFAULT 0;
ALTER TABLE outlast.runs ADD COLUMN parent_run_id uuid;
ALTER TABLE outlast.runs ADD COLUMN agent_version text;
CREATE INDEX runs_parent_idx ON outlast.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- Signals sent to a run; kept until a ctx.waitForSignal of that name consumes one, so a
-- signal sent before the run reaches its wait is not lost.
CREATE TABLE outlast.signals (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL,
  name text NOT NULL,
  payload jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- the journal position of the wait that consumed it
  consumed_seq integer
);
CREATE INDEX signals_pending_idx ON outlast.signals (run_id, name, id) WHERE consumed_seq IS NULL;

