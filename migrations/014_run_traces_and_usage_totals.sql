-- 014: a run's trace (docs/tracing.md), chosen at submit, so that the run's span can be
-- emitted by whichever process finishes it, hours later, and its attempts, steps and
-- model calls in any process are its children. Lowercase hex as W3C trace context writes
-- them; null when the run is not traced (no traceparent at submit and tracing off in the
-- submitting process). Nullable columns without a default: adding them rewrites nothing.
ALTER TABLE outlast.runs
  ADD COLUMN trace_id text,
  ADD COLUMN span_id text,
  ADD COLUMN parent_span_id text;

-- Usage totals: the usage rollups of migration 012 summed over every key but the project
-- and the outcome, per minute, hour and day. `/v1/usage` grouped by nothing, by day or by
-- hour (and project, outcome) reads these: a month by hour is then 720 hours × a few
-- outcomes (2,268 rows in bench/usage.ts), where the rollups hold a row per hour and key:
-- 215,700 of its 1.2 million rollup rows for its 300 keys, read by a sequential scan and
-- summed, 295 ms on a quiet machine against the 50 ms /v1/usage is allowed (EXPLAIN
-- ANALYZE; figures in bench/usage.ts's commit). The more keys a deployment has (tenants,
-- features), the more this saves. Written like the rollups, by a statement
-- trigger on gateway_calls in the same statement as the raw rows (one upsert per project,
-- outcome and width per INSERT), in key order; never pruned.
CREATE TABLE outlast.usage_totals (
  -- seconds: 60 | 3600 | 86400, as usage_rollups.width
  width integer NOT NULL,
  bucket timestamptz NOT NULL,
  project text NOT NULL,
  outcome text NOT NULL,
  calls bigint NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cached_tokens bigint NOT NULL,
  cost_usd numeric NOT NULL,
  latency_ms bigint NOT NULL,
  PRIMARY KEY (width, bucket, project, outcome)
);

CREATE FUNCTION outlast.usage_totals_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outlast.usage_totals AS u (width, bucket, project, outcome, calls,
    input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms)
  SELECT w.width, to_timestamp(floor(extract(epoch FROM n.at) / w.width) * w.width),
    n.project, n.outcome, count(*), sum(n.input_tokens), sum(n.output_tokens),
    sum(n.cached_tokens), sum(n.cost_usd), sum(n.latency_ms)
  FROM new_calls n CROSS JOIN (VALUES (60), (3600), (86400)) AS w(width)
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (width, bucket, project, outcome)
  DO UPDATE SET calls = u.calls + EXCLUDED.calls,
    input_tokens = u.input_tokens + EXCLUDED.input_tokens,
    output_tokens = u.output_tokens + EXCLUDED.output_tokens,
    cached_tokens = u.cached_tokens + EXCLUDED.cached_tokens,
    cost_usd = u.cost_usd + EXCLUDED.cost_usd,
    latency_ms = u.latency_ms + EXCLUDED.latency_ms;
  RETURN NULL;
END $$;

-- What the rollups hold already (they outlive raw rows, so they are the source), with
-- inserts held off until this migration commits: no call counted twice or missed.
LOCK TABLE outlast.gateway_calls IN SHARE MODE;
INSERT INTO outlast.usage_totals (width, bucket, project, outcome, calls, input_tokens,
  output_tokens, cached_tokens, cost_usd, latency_ms)
SELECT width, bucket, project, outcome, sum(calls), sum(input_tokens), sum(output_tokens),
  sum(cached_tokens), sum(cost_usd), sum(latency_ms)
FROM outlast.usage_rollups
GROUP BY 1, 2, 3, 4;

CREATE TRIGGER gateway_calls_totals AFTER INSERT ON outlast.gateway_calls
  REFERENCING NEW TABLE AS new_calls
  FOR EACH STATEMENT EXECUTE FUNCTION outlast.usage_totals_insert();
