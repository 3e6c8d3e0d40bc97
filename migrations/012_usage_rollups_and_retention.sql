-- 012: usage rollups, and the indexes the retention pruner's queries need.
--
-- Usage rollups: gateway_calls totals per minute, hour and day (width 60, 3600, 86400 s)
-- by project, requested name, provider, model, agent, feature, tenant and outcome, so that
-- `GET /v1/usage` over a month reads a few thousand day rows instead of every call
-- (src/gateway/accounting/usage-query.ts splits a range into raw edges, minutes, hours
-- and days). Rollups are written by a statement trigger on gateway_calls, in the same
-- statement as the raw rows: one upsert per key and width per INSERT, whoever inserts
-- (the recorder writes up to 500 calls per INSERT, one INSERT in flight per process, so a
-- hot minute/hour/day row takes one update per batch, not per call). Rows are upserted in
-- key order, so two processes' batches lock shared rows in the same order (no deadlock).
-- Rollups are never pruned: they outlive raw rows (retention.usage prunes raw rows only).
-- run_id and step are not in them (unbounded): grouping by run or step reads raw rows.
CREATE TABLE outlast.usage_rollups (
  -- seconds: 60 | 3600 | 86400; buckets start at multiples of it since the epoch (UTC)
  width integer NOT NULL,
  bucket timestamptz NOT NULL,
  project text NOT NULL,
  requested text NOT NULL,
  provider text,
  model text,
  agent text,
  feature text,
  tenant text,
  outcome text NOT NULL,
  calls bigint NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cached_tokens bigint NOT NULL,
  cost_usd numeric NOT NULL,
  -- sum of latency_ms: the average is latency_ms / calls
  latency_ms bigint NOT NULL
);
-- NULLS NOT DISTINCT (PostgreSQL 15+): an untagged call's rollup is one row, not one per call.
CREATE UNIQUE INDEX usage_rollups_key ON outlast.usage_rollups
  (width, bucket, project, requested, provider, model, agent, feature, tenant, outcome)
  NULLS NOT DISTINCT;

CREATE FUNCTION outlast.usage_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outlast.usage_rollups AS u (width, bucket, project, requested, provider, model,
    agent, feature, tenant, outcome, calls, input_tokens, output_tokens, cached_tokens,
    cost_usd, latency_ms)
  SELECT w.width, to_timestamp(floor(extract(epoch FROM n.at) / w.width) * w.width),
    n.project, n.requested, n.provider, n.model, n.agent, n.feature, n.tenant, n.outcome,
    count(*), sum(n.input_tokens), sum(n.output_tokens), sum(n.cached_tokens),
    sum(n.cost_usd), sum(n.latency_ms)
  FROM new_calls n CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
  ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
  ON CONFLICT (width, bucket, project, requested, provider, model, agent, feature, tenant,
    outcome)
  DO UPDATE SET calls = u.calls + EXCLUDED.calls,
    input_tokens = u.input_tokens + EXCLUDED.input_tokens,
    output_tokens = u.output_tokens + EXCLUDED.output_tokens,
    cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
    cost_usd = u.cost_usd + EXCLUDED.cost_usd,
    latency_ms = u.latency_ms + EXCLUDED.latency_ms;
  RETURN NULL;
END $$;

-- Rows that exist: backfilled with inserts held off until this migration commits, so no
-- call is counted twice or missed.
LOCK TABLE outlast.gateway_calls IN SHARE MODE;
INSERT INTO outlast.usage_rollups (width, bucket, project, requested, provider, model,
  agent, feature, tenant, outcome, calls, input_tokens, output_tokens, cached_tokens,
  cost_usd, latency_ms)
SELECT w.width, to_timestamp(floor(extract(epoch FROM c.at) / w.width) * w.width),
  c.project, c.requested, c.provider, c.model, c.agent, c.feature, c.tenant, c.outcome,
  count(*), sum(c.input_tokens), sum(c.output_tokens), sum(c.cached_tokens),
  sum(c.cost_usd), sum(c.latency_ms)
FROM outlast.gateway_calls c CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;

CREATE TRIGGER gateway_calls_rollup AFTER INSERT ON outlast.gateway_calls
  REFERENCING NEW TABLE AS new_calls
  FOR EACH STATEMENT EXECUTE FUNCTION outlast.usage_rollup_insert();

-- Retention (src/retention): each prune query walks one of these from its oldest entry.
-- Finished runs by finish time; a finish already writes runs_status_idx, and this partial
-- index gets its one entry then (runs in flight are not in it).
CREATE INDEX runs_finished_idx ON outlast.runs (finished_at, id)
  WHERE status IN ('succeeded', 'failed', 'cancelled');
-- Events by age: one more btree entry per event (events are appended in time order, so
-- it always goes to the rightmost page).
CREATE INDEX events_at_idx ON outlast.events (at, id);
-- A run's signals, consumed or not (signals_pending_idx holds the pending ones only).
CREATE INDEX signals_run_idx ON outlast.signals (run_id);
-- Settled deliveries by age; pending ones are never pruned.
CREATE INDEX webhook_deliveries_settled_idx ON outlast.webhook_deliveries (updated_at)
  WHERE status <> 'pending';
