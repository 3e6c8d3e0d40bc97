-- 002: the AI gateway — limiter buckets and leases shared by every process, the
-- response cache, and one accounting row per call.
--
-- Limiter state machine and reservation protocol: src/gateway/ARCHITECTURE.md.
-- Dimensions are arrays in a fixed order: [rpm, tpm, itpm, otpm, tpd]; a NULL capacity
-- means "not limited". Times are epoch milliseconds from the database clock, so processes
-- with skewed clocks still agree on refills.

CREATE TABLE outlast.gateway_buckets (
  -- provider|model|sha256(api key) prefix
  key text PRIMARY KEY,
  caps float8[] NOT NULL,
  -- may go below zero: output longer than reserved is a debt repaid by refill
  levels float8[] NOT NULL,
  concurrency integer,
  in_flight integer NOT NULL DEFAULT 0,
  updated_ms float8 NOT NULL,
  -- a provider 429 with retry-after pauses the key for every process until then
  paused_until_ms float8 NOT NULL DEFAULT 0
);

-- Concurrency slots per process, so a process that dies gives its slots back when its
-- lease lapses instead of leaking them forever.
CREATE TABLE outlast.gateway_leases (
  key text NOT NULL,
  owner text NOT NULL,
  slots integer NOT NULL,
  expires_ms float8 NOT NULL,
  PRIMARY KEY (key, owner)
);

-- Processes waiting for quota on a key, oldest first: a take is granted only from what
-- is left after the needs of processes that have waited longer, so the refill goes round
-- the processes instead of to whichever asks first after a take (that one was always the
-- process that had just taken: measured, one of four served 7 calls to another's 36).
CREATE TABLE outlast.gateway_waiters (
  key text NOT NULL,
  owner text NOT NULL,
  since_ms float8 NOT NULL,
  need float8[] NOT NULL,
  -- a waiter that stops asking (its process died, its caller left) is ignored after this
  expires_ms float8 NOT NULL,
  PRIMARY KEY (key, owner)
);

CREATE FUNCTION outlast.gateway_now_ms() RETURNS float8 LANGUAGE sql VOLATILE AS $$
  SELECT extract(epoch FROM clock_timestamp()) * 1000
$$;

-- Levels refilled continuously up to capacity; a capacity changed in the config keeps
-- the amount already used (a raised limit adds the difference at once).
CREATE FUNCTION outlast.gateway_refill(
  old_caps float8[], new_caps float8[], levels float8[], elapsed_ms float8
) RETURNS float8[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  periods float8[] := ARRAY[60000, 60000, 60000, 60000, 86400000];
  out float8[] := ARRAY[NULL, NULL, NULL, NULL, NULL]::float8[];
  cap float8;
  lv float8;
BEGIN
  FOR i IN 1..5 LOOP
    cap := new_caps[i];
    CONTINUE WHEN cap IS NULL;
    lv := coalesce(levels[i], cap) + (cap - coalesce(old_caps[i], cap));
    out[i] := least(cap, lv + greatest(0, elapsed_ms) * cap / periods[i]);
  END LOOP;
  RETURN out;
END $$;

-- Take `need` (all of it or nothing) plus up to `extra` more as prefetched credit, and
-- `slots` concurrency slots under a lease for `owner`. Returns what was granted, or
-- NULL and why not with how long to wait.
CREATE FUNCTION outlast.gateway_take(
  p_key text, p_caps float8[], p_concurrency integer, p_need float8[], p_extra float8[],
  p_slots integer, p_owner text, p_lease_ms float8,
  OUT granted float8[], OUT blocked text, OUT wait_ms float8
) LANGUAGE plpgsql AS $$
DECLARE
  periods float8[] := ARRAY[60000, 60000, 60000, 60000, 86400000];
  dims text[] := ARRAY['rpm', 'tpm', 'itpm', 'otpm', 'tpd'];
  now_ms float8 := outlast.gateway_now_ms();
  b outlast.gateway_buckets%ROWTYPE;
  lv float8[];
  w float8;
  reclaimed integer;
  my_since float8;
  ahead float8[];
BEGIN
  INSERT INTO outlast.gateway_buckets (key, caps, levels, concurrency, updated_ms)
  VALUES (p_key, p_caps, p_caps, p_concurrency, now_ms)
  ON CONFLICT (key) DO NOTHING;
  SELECT * INTO b FROM outlast.gateway_buckets WHERE key = p_key FOR UPDATE;
  -- The clock is read after the row lock: a time read before waiting for the lock could
  -- be older than the last writer's, and moving updated_ms back would refill twice.
  now_ms := greatest(outlast.gateway_now_ms(), b.updated_ms);
  lv := outlast.gateway_refill(b.caps, p_caps, b.levels, now_ms - b.updated_ms);
  wait_ms := 0;

  IF b.in_flight > 0 AND p_slots > 0 THEN
    WITH gone AS (
      DELETE FROM outlast.gateway_leases
      WHERE key = p_key AND expires_ms < now_ms RETURNING slots
    ) SELECT coalesce(sum(slots), 0)::int INTO reclaimed FROM gone;
    b.in_flight := greatest(0, b.in_flight - reclaimed);
  END IF;

  -- Uncontended keys have no waiters: one index probe, then nothing more to add up.
  IF EXISTS (SELECT 1 FROM outlast.gateway_waiters w WHERE w.key = p_key) THEN
    SELECT w.since_ms INTO my_since FROM outlast.gateway_waiters w
    WHERE w.key = p_key AND w.owner = p_owner;
    my_since := coalesce(my_since, now_ms);
    SELECT array_agg(t.s ORDER BY t.i) INTO ahead FROM (
      SELECT u.i, sum(u.v) AS s
      FROM outlast.gateway_waiters w, unnest(w.need) WITH ORDINALITY AS u(v, i)
      WHERE w.key = p_key AND w.owner <> p_owner AND w.since_ms < my_since
        AND w.expires_ms > now_ms
      GROUP BY u.i) t;
  END IF;
  my_since := coalesce(my_since, now_ms);
  ahead := coalesce(ahead, ARRAY[0, 0, 0, 0, 0]::float8[]);

  IF b.paused_until_ms > now_ms THEN
    blocked := 'paused';
    wait_ms := b.paused_until_ms - now_ms;
  END IF;
  FOR i IN 1..5 LOOP
    CONTINUE WHEN p_caps[i] IS NULL OR p_need[i] <= 0;
    IF p_need[i] > p_caps[i] THEN
      blocked := 'too_large:' || dims[i];
      wait_ms := 'Infinity';
      EXIT;
    END IF;
    IF lv[i] - ahead[i] + 1e-6 < p_need[i] THEN
      w := (p_need[i] + ahead[i] - lv[i]) * periods[i] / p_caps[i];
      IF w > wait_ms OR blocked IS NULL THEN
        blocked := dims[i];
      END IF;
      wait_ms := greatest(wait_ms, w);
    END IF;
  END LOOP;
  IF blocked IS NULL AND p_slots > 0 AND p_concurrency IS NOT NULL
     AND b.in_flight + p_slots > p_concurrency THEN
    blocked := 'concurrency';
  END IF;

  IF blocked IS NULL THEN
    granted := ARRAY[0, 0, 0, 0, 0]::float8[];
    FOR i IN 1..5 LOOP
      CONTINUE WHEN p_caps[i] IS NULL;
      -- Prefetch only from spare quota: a tenth of the bucket stays for other processes,
      -- so under contention everyone takes exactly what it needs (fair shares).
      granted[i] := p_need[i]
        + least(p_extra[i], greatest(0, lv[i] - ahead[i] - p_need[i] - p_caps[i] * 0.1));
      lv[i] := lv[i] - granted[i];
    END LOOP;
    IF p_slots > 0 THEN
      b.in_flight := b.in_flight + p_slots;
      INSERT INTO outlast.gateway_leases (key, owner, slots, expires_ms)
      VALUES (p_key, p_owner, p_slots, now_ms + p_lease_ms)
      ON CONFLICT (key, owner) DO UPDATE
        SET slots = gateway_leases.slots + EXCLUDED.slots, expires_ms = EXCLUDED.expires_ms;
    END IF;
    -- Served: this process goes to the back of the line for its next request.
    DELETE FROM outlast.gateway_waiters WHERE key = p_key AND owner = p_owner;
  ELSIF NOT blocked LIKE 'too_large%' THEN
    INSERT INTO outlast.gateway_waiters (key, owner, since_ms, need, expires_ms)
    VALUES (p_key, p_owner, my_since, p_need, now_ms + least(wait_ms, 60000) + 2000)
    ON CONFLICT (key, owner) DO UPDATE
      SET need = EXCLUDED.need, expires_ms = EXCLUDED.expires_ms;
    DELETE FROM outlast.gateway_waiters WHERE key = p_key AND expires_ms < now_ms - 60000;
  END IF;

  UPDATE outlast.gateway_buckets
  SET caps = p_caps, levels = lv, concurrency = p_concurrency, in_flight = b.in_flight,
      updated_ms = now_ms
  WHERE key = p_key;
END $$;

-- Give back unused credit (`refund`; negative for output longer than reserved) and
-- concurrency slots. A freed slot wakes waiting processes through NOTIFY.
CREATE FUNCTION outlast.gateway_give(
  p_key text, p_refund float8[], p_slots integer, p_owner text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  now_ms float8 := outlast.gateway_now_ms();
  b outlast.gateway_buckets%ROWTYPE;
  lv float8[];
  freed integer := 0;
BEGIN
  SELECT * INTO b FROM outlast.gateway_buckets WHERE key = p_key FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  now_ms := greatest(outlast.gateway_now_ms(), b.updated_ms);
  lv := outlast.gateway_refill(b.caps, b.caps, b.levels, now_ms - b.updated_ms);
  FOR i IN 1..5 LOOP
    CONTINUE WHEN b.caps[i] IS NULL;
    lv[i] := least(b.caps[i], lv[i] + coalesce(p_refund[i], 0));
  END LOOP;
  IF p_slots > 0 THEN
    UPDATE outlast.gateway_leases SET slots = greatest(0, slots - p_slots)
    WHERE key = p_key AND owner = p_owner;
    -- a lease that lapsed was already reclaimed: do not free its slots twice
    freed := CASE WHEN FOUND THEN p_slots ELSE 0 END;
  END IF;
  UPDATE outlast.gateway_buckets
  SET levels = lv, updated_ms = now_ms, in_flight = greatest(0, in_flight - freed)
  WHERE key = p_key;
  IF freed > 0 THEN
    PERFORM pg_notify('outlast_gateway', 's ' || p_key);
  END IF;
END $$;

-- Exact-match response cache (opt-in per alias or request). `body` is the JSON answer or
-- the SSE transcript the caller saw; `usage` what the original call cost.
CREATE TABLE outlast.gateway_cache (
  key text PRIMARY KEY,
  body text NOT NULL,
  usage jsonb NOT NULL,
  provider text NOT NULL,
  model text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX gateway_cache_expires_idx ON outlast.gateway_cache (expires_at);

-- One row per gateway call: its final outcome, tokens billed by the provider, cost and
-- attribution. Cache hits have cache_hit = true and cost nothing.
CREATE TABLE outlast.gateway_calls (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  project text NOT NULL,
  agent text,
  run_id text,
  step text,
  feature text,
  tenant text,
  -- what the caller asked for (an alias or provider/model)
  requested text NOT NULL,
  provider text,
  model text,
  -- ok | cache_hit | rate_limited | upstream_error | rejected
  outcome text NOT NULL,
  status integer NOT NULL,
  input_tokens integer NOT NULL DEFAULT 0,
  output_tokens integer NOT NULL DEFAULT 0,
  -- input tokens the provider served from its prompt cache
  cached_tokens integer NOT NULL DEFAULT 0,
  cost_usd numeric(20, 10) NOT NULL DEFAULT 0,
  latency_ms integer NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  stream boolean NOT NULL DEFAULT false,
  error_code text
);
CREATE INDEX gateway_calls_at_idx ON outlast.gateway_calls (at);
CREATE INDEX gateway_calls_run_idx ON outlast.gateway_calls (run_id) WHERE run_id IS NOT NULL;
