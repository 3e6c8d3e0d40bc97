-- 011: what a worker is doing, for GET /v1/workers (`outlast workers`). The registry row
-- records the worker's slots (its concurrency) at registration, and the slots in use with
-- every heartbeat: the heartbeat statement carries them, so no statement is added.
-- Rows of workers that registered before this migration read NULL slots until their next
-- registration; their heartbeats keep working (the old statement sets neither column).

ALTER TABLE outlast.workers ADD COLUMN concurrency integer;
ALTER TABLE outlast.workers ADD COLUMN slots_in_use integer;
