-- 001: runs, the step journal and the worker registry.
-- Every table lives in the "outlast" schema so the store can share a database.

CREATE TABLE outlast.runs (
  id uuid PRIMARY KEY,
  agent text NOT NULL,
  queue text NOT NULL,
  -- queued | running | waiting | throttled | succeeded | failed | cancelled
  -- (the state machine is documented in src/engine/run-states.ts)
  status text NOT NULL,
  input jsonb,
  output jsonb,
  error jsonb,
  progress jsonb,
  thread_id text,
  priority integer NOT NULL DEFAULT 0,
  concurrency_key text,
  tags jsonb NOT NULL DEFAULT '{}'::jsonb,
  idempotency_key text UNIQUE,
  -- attempts that ended in an error; lease losses and waits do not count
  attempt integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  -- times the run was claimed: 1 on a first claim means there is no journal to load
  claims integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  -- fencing token of the current claim: journal and completion writes must carry it
  lease_token uuid,
  cancel_requested boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The claim scan: ready runs of a queue in priority order.
CREATE INDEX runs_ready_idx ON outlast.runs (queue, priority DESC, available_at, id)
  WHERE status IN ('queued', 'waiting', 'throttled');
-- The reaper: running runs by owner.
CREATE INDEX runs_lease_owner_idx ON outlast.runs (lease_owner) WHERE status = 'running';
CREATE INDEX runs_agent_idx ON outlast.runs (agent, id);
CREATE INDEX runs_status_idx ON outlast.runs (status, id);
CREATE INDEX runs_thread_idx ON outlast.runs (thread_id, id) WHERE thread_id IS NOT NULL;

-- No foreign key to runs: the journal write already joins the run (to check the lease),
-- and the FK trigger added ~0.3-0.8 ms to every step. Deleting a run deletes its steps
-- explicitly.
CREATE TABLE outlast.steps (
  run_id uuid NOT NULL,
  seq integer NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  -- succeeded | failed (failed only for terminal errors, which replay rethrows)
  status text NOT NULL,
  output jsonb,
  error jsonb,
  attempt integer NOT NULL,
  lease_token uuid NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE outlast.workers (
  id text PRIMARY KEY,
  queues text[] NOT NULL,
  hostname text NOT NULL,
  pid integer NOT NULL,
  -- key of the session advisory lock the worker holds for its lifetime (PostgreSQL only);
  -- when the process dies the lock vanishes within milliseconds and peers reap its runs
  lock_key integer,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
