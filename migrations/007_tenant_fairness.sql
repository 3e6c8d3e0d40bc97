-- 007: weighted fairness between tenants (config `fairness`; see src/quota/fairness.ts).
-- A run's tenant is tags->>'tenant', '' when untagged. With fairness on, a claim finds the
-- tenants that have ready runs in a queue by a skip scan of this index (one probe per
-- tenant), then takes each tenant's best runs from it in claim order.
--
-- An expression index rather than a stored generated column: adding a stored column
-- rewrites the whole runs table under an exclusive lock, and is recomputed on every update
-- of a run. The index only holds ready-state runs, so claims (→ running) and finishes never
-- touch it; inserting or parking a run writes one more index entry.
--
-- Runs parked with no deadline (available_at = infinity: waiting for a signal or a child)
-- are left out, so thousands of them cost the skip scan nothing; the wake-up that sets
-- their available_at puts them in.
CREATE INDEX runs_tenant_ready_idx ON outlast.runs
  (queue, (coalesce(tags ->> 'tenant', '')), priority DESC, available_at, id)
  WHERE status IN ('queued', 'waiting', 'throttled') AND available_at < 'infinity'::timestamptz;

-- The best ready runs of some queues by weighted fairness between tenants, locked; the
-- fair claims (CLAIM_RUNS_FAIR, FINISH_AND_CLAIM_FAIR in src/store/sql/runs.ts) lease them.
--
-- A function, not a statement sent by the worker, so that its plan is cached per
-- connection: PGlite plans every statement it is sent, and planning this one took ~10×
-- its execution there (measured: 28 ms planning, 2.3 ms execution, 5,000 ready runs of 10
-- tenants), which made fair claims 4× slower than plain ones. The generic plan is forced:
-- left to choose, the plan cache kept re-planning per call (13 ms a call; 1.2 ms generic).
--
-- 1. `tenants`: the distinct tenants with ready-state runs of each queue, by a skip scan
--    of runs_tenant_ready_idx — one index probe per tenant however many runs each has.
-- 2. `cand`: per tenant, its best p_limit ready runs in claim order (priority DESC,
--    available_at, id), read without locks: a burst of 1,000 runs of one tenant costs the
--    others p_limit rows, not 1,000.
-- 3. Priority first; within a priority, weighted fair queueing: the k-th run (from 1) of a
--    tenant that already runs `running` runs ends its turn at (running + k) ÷ weight, and
--    the earliest turns win (ties: the older run). Without `running`, claims of one slot
--    at a time (a busy worker) would always go to the tenant with the oldest run.
-- 4. `quota`: how many runs each tenant gets; only those are locked, SKIP LOCKED within
--    the tenant's own runs, so a claim locks at most p_limit rows however many tenants
--    there are, and a run another claim holds is replaced by the same tenant's next one.
--
-- Tenants missing from p_tenants run nothing and weigh p_default_weight.
-- p_tenants, p_weights and p_running are parallel arrays.
CREATE FUNCTION outlast.fair_ready_runs(p_queues text[], p_limit int, p_tenants text[],
  p_weights float8[], p_running int[], p_default_weight float8)
RETURNS TABLE (id uuid, waiting_for jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE tenants AS (
    SELECT q.name AS queue, (
      SELECT coalesce(r.tags ->> 'tenant', '') FROM outlast.runs r
      WHERE r.queue = q.name AND r.status IN ('queued', 'waiting', 'throttled')
        AND r.available_at < 'infinity'::timestamptz
      ORDER BY coalesce(r.tags ->> 'tenant', '') LIMIT 1) AS tenant
    FROM unnest(p_queues) AS q(name)
    UNION ALL
    SELECT t.queue, (
      SELECT coalesce(r.tags ->> 'tenant', '') FROM outlast.runs r
      WHERE r.queue = t.queue AND r.status IN ('queued', 'waiting', 'throttled')
        AND r.available_at < 'infinity'::timestamptz
        AND coalesce(r.tags ->> 'tenant', '') > t.tenant
      ORDER BY coalesce(r.tags ->> 'tenant', '') LIMIT 1)
    FROM tenants t WHERE t.tenant IS NOT NULL
  ), service AS (
    SELECT * FROM unnest(p_tenants, p_weights, p_running) AS s(tenant, weight, running)
  ), cand AS (
    SELECT t.queue, t.tenant, c.id, c.priority, c.available_at,
      (coalesce(s.running, 0) + row_number() OVER (
        PARTITION BY t.queue, t.tenant ORDER BY c.priority DESC, c.available_at, c.id))
        / coalesce(s.weight, p_default_weight) AS turn
    FROM (SELECT * FROM tenants WHERE tenant IS NOT NULL) AS t
    CROSS JOIN LATERAL (
      SELECT r.id, r.priority, r.available_at FROM outlast.runs r
      WHERE r.queue = t.queue AND coalesce(r.tags ->> 'tenant', '') = t.tenant
        AND r.status IN ('queued', 'waiting', 'throttled')
        AND r.available_at < 'infinity'::timestamptz AND r.available_at <= now()
      ORDER BY r.priority DESC, r.available_at, r.id
      LIMIT p_limit
    ) AS c
    LEFT JOIN service s ON s.tenant = t.tenant
  ), quota AS (
    SELECT b.queue, b.tenant, count(*) AS n FROM (
      SELECT cand.queue, cand.tenant FROM cand
      ORDER BY cand.priority DESC, cand.turn, cand.available_at, cand.id
      LIMIT p_limit) AS b
    GROUP BY b.queue, b.tenant
  )
  SELECT l.id, l.waiting_for FROM quota q
  CROSS JOIN LATERAL (
    SELECT r.id, r.waiting_for FROM outlast.runs r
    WHERE r.queue = q.queue AND coalesce(r.tags ->> 'tenant', '') = q.tenant
      AND r.status IN ('queued', 'waiting', 'throttled')
      AND r.available_at < 'infinity'::timestamptz AND r.available_at <= now()
    ORDER BY r.priority DESC, r.available_at, r.id
    LIMIT q.n
    FOR UPDATE SKIP LOCKED
  ) AS l;
END $$;
