-- 013: projects, API keys (and run-scoped tokens) and the audit log (issue 20, items 2–5).
--
-- Keys are stored hashed: `secret_hash` is the SHA-256 (hex) of the key's secret part, so
-- the table holds nothing a caller could present. Every process keeps all live keys in
-- memory (src/auth/credentials.ts) and follows changes by `revision`: a sequence value
-- given to a row on every INSERT and UPDATE, announced with NOTIFY outlast_keys, and
-- polled (`WHERE revision > $last`) at most a second apart as the fallback. Writers take
-- one advisory transaction lock first, so revisions commit in the order they were drawn
-- and a poll never skips a revision that commits late. Key writes are rare (create,
-- revoke, a run token minted on demand), so the lock costs nothing that matters.
CREATE TABLE outlast.projects (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO outlast.projects (name) VALUES ('default');

CREATE SEQUENCE outlast.api_keys_revision;

CREATE TABLE outlast.api_keys (
  -- olk_<id> / olr_<id> shows as the prefix; config keys: cfg_<12 hex of the key's SHA-256>
  id text PRIMARY KEY,
  project text NOT NULL REFERENCES outlast.projects (name),
  -- read | submit | admin
  role text NOT NULL CHECK (role IN ('read', 'submit', 'admin')),
  name text NOT NULL,
  -- what `keys list` shows: olk_<id>, or the first characters of a config key
  prefix text NOT NULL,
  secret_hash text NOT NULL,
  -- attribution defaults of gateway calls made with the key
  feature text,
  tenant text,
  agent text,
  -- api: made with POST /v1/keys or `outlast keys create`; config: config.gateway.keys
  -- (read-only); run: a run-scoped token (ctx.runToken()), ended by its run's end
  source text NOT NULL CHECK (source IN ('api', 'config', 'run')),
  run_id uuid,
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  revision bigint NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_revision_idx ON outlast.api_keys (revision);
CREATE INDEX api_keys_project_idx ON outlast.api_keys (project, created_at DESC, id DESC);
-- A run's live tokens, for the revoke at its end; empty for runs that never asked for one.
CREATE INDEX api_keys_run_idx ON outlast.api_keys (run_id) WHERE run_id IS NOT NULL;

CREATE FUNCTION outlast.api_keys_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- 0x4f55544c ("OUTL", LOCK_NAMESPACE), 13: this migration's lock.
  PERFORM pg_advisory_xact_lock(1330992204, 13);
  NEW.revision := nextval('outlast.api_keys_revision');
  RETURN NEW;
END $$;
CREATE TRIGGER api_keys_stamp BEFORE INSERT OR UPDATE ON outlast.api_keys
  FOR EACH ROW EXECUTE FUNCTION outlast.api_keys_stamp();

CREATE FUNCTION outlast.api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outlast_keys', NEW.revision::text);
  RETURN NULL;
END $$;
CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE ON outlast.api_keys
  FOR EACH ROW EXECUTE FUNCTION outlast.api_keys_notify();

-- A run token lives as long as its run: revoked when the run ends, whoever ends it (a
-- worker, a cancel through the API, a failure), and live again when a failed run is
-- resumed. `runs.run_tokens` is set when the first token of a run is minted, so the
-- trigger's WHEN is false for every run that never asked for one: no function call, no
-- statement, on the hot path of the runs that don't use tokens.
ALTER TABLE outlast.runs ADD COLUMN run_tokens boolean NOT NULL DEFAULT false;

CREATE FUNCTION outlast.run_tokens_follow_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'failed', 'cancelled') THEN
    UPDATE outlast.api_keys SET revoked_at = now()
    WHERE run_id = NEW.id AND source = 'run' AND revoked_at IS NULL;
  ELSE
    UPDATE outlast.api_keys SET revoked_at = NULL
    WHERE run_id = NEW.id AND source = 'run' AND revoked_at IS NOT NULL;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER run_tokens_follow_run AFTER UPDATE OF status ON outlast.runs
  FOR EACH ROW
  WHEN (NEW.run_tokens AND OLD.status IS DISTINCT FROM NEW.status
        AND (NEW.status IN ('succeeded', 'failed', 'cancelled') OR OLD.status = 'failed'))
  EXECUTE FUNCTION outlast.run_tokens_follow_run();

CREATE TABLE outlast.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  -- the key id that acted, or 'bootstrap' (OUTLAST_API_KEY), 'cli' (a command on the
  -- database), 'open' (a deployment without keys)
  actor text NOT NULL,
  -- key.create | key.revoke | webhook.create | webhook.delete | run.signal
  action text NOT NULL,
  target text,
  details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_project_idx ON outlast.audit_log (project, id DESC);
