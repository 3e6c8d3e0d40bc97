-- 008: a gateway call's time at the provider, apart from its wait for quota.
--
-- latency_ms is what the caller waited: the wait for quota, failed attempts and the
-- answering attempt. Quota-aware admission learns how fast one run goes at full speed from
-- its calls' latency; measured with latency_ms, runs that waited for quota looked slow, so
-- more were admitted, so they waited more (bench/quota.ts at 200 runs: 72 runs admitted at
-- once where RPM 600 carries ~4 at full speed). upstream_ms is the answering attempt alone.
-- Null for cache hits, calls that never went upstream, and rows written before 008.
ALTER TABLE outlast.gateway_calls ADD COLUMN upstream_ms integer;
