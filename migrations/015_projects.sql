-- 015: projects partition the data (issue 20). A scoped table carries `project text NOT
-- NULL` with no default, so a write that forgets the project fails instead of landing in
-- "default"; rows written before this migration belong to "default".
-- test/store/scoping.test.ts lists every table of the schema and fails on one that is
-- neither scoped (a project column), nor reached only through a scoped parent, nor
-- declared deployment-wide — so a table added later is scoped by default or says why not.

ALTER TABLE outlast.runs ADD COLUMN project text NOT NULL DEFAULT 'default';
ALTER TABLE outlast.runs ALTER COLUMN project DROP DEFAULT;

-- An idempotency key is unique within its project only: a key used in another project
-- makes a new run there, and never reveals the other project's run.
ALTER TABLE outlast.runs DROP CONSTRAINT runs_idempotency_key_key;
CREATE UNIQUE INDEX runs_idempotency_idx ON outlast.runs (project, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- GET /v1/runs: a project's runs, newest first.
CREATE INDEX runs_project_idx ON outlast.runs (project, id);

-- Subscriptions and per-run webhooks belong to a project; the config's notifiers (Slack,
-- email: config_key set) are the operator's and see every project's runs (project NULL).
ALTER TABLE outlast.webhook_endpoints ADD COLUMN project text;
UPDATE outlast.webhook_endpoints SET project = 'default' WHERE config_key IS NULL;
ALTER TABLE outlast.webhook_endpoints ADD CONSTRAINT webhook_endpoints_project_check
  CHECK ((project IS NULL) = (config_key IS NOT NULL));

