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
