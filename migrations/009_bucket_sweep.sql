-- 009: limiter rows that nothing needs any more may be deleted (GATEWAY_SWEEP), so a
-- `"*"` cap — a bucket per tenant or feature name a caller sends — does not grow
-- gateway_buckets by one row per name ever seen.
--
-- A bucket is only deleted when it is indistinguishable from a missing one: refilled to
-- full, nothing in flight, not paused, no live waiter, idle a long time; a take recreates
-- it full. What remained was a race: gateway_take's INSERT … ON CONFLICT DO NOTHING takes
-- no lock on an existing row, so a sweep could delete the row between that insert and the
-- take's SELECT … FOR UPDATE, and the take would grant from a row that no longer exists
-- and record nothing. gateway_take now locks the row first (re-inserting it if a sweep got
-- there first) and then runs the unchanged body of 002, which finds the row locked by its
-- own transaction. The sweep skips locked rows.

ALTER FUNCTION outlast.gateway_take(text, float8[], integer, float8[], float8[], integer, text, float8)
  RENAME TO gateway_take_locked;

CREATE FUNCTION outlast.gateway_take(
  p_key text, p_caps float8[], p_concurrency integer, p_need float8[], p_extra float8[],
  p_slots integer, p_owner text, p_lease_ms float8,
  OUT granted float8[], OUT blocked text, OUT wait_ms float8
) LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    INSERT INTO outlast.gateway_buckets (key, caps, levels, concurrency, updated_ms)
    VALUES (p_key, p_caps, p_caps, p_concurrency, outlast.gateway_now_ms())
    ON CONFLICT (key) DO NOTHING;
    PERFORM 1 FROM outlast.gateway_buckets WHERE key = p_key FOR UPDATE;
    EXIT WHEN FOUND;
  END LOOP;
  SELECT t.granted, t.blocked, t.wait_ms INTO granted, blocked, wait_ms
  FROM outlast.gateway_take_locked(p_key, p_caps, p_concurrency, p_need, p_extra, p_slots,
    p_owner, p_lease_ms) t;
END $$;
