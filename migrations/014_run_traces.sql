-- 014: a run's trace (docs/tracing.md), chosen at submit, so that the run's span can be
-- emitted by whichever process finishes it, hours later, and its attempts, steps and
-- model calls in any process are its children. Lowercase hex as W3C trace context writes
-- them; null when the run is not traced (no traceparent at submit and tracing off in the
-- submitting process). Nullable columns without a default: adding them rewrites nothing.
ALTER TABLE outlast.runs
  ADD COLUMN trace_id text,
  ADD COLUMN span_id text,
  ADD COLUMN parent_span_id text;
