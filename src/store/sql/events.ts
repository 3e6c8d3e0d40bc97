/**
 * SQL for run events (outlast.events, written by the triggers of migration 004; nothing
 * here writes an event).
 */

/**
 * A run's events after a sequence number, in order.
 * $1 run id, $2 after seq (exclusive), $3 limit
 */
export const LIST_EVENTS = `
SELECT run_id, seq, type, data, at FROM outlast.events
WHERE run_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3`;

/**
 * Whether a stream can end: the run's status and its last event number. $1 run id
 */
export const STREAM_STATE = `
SELECT r.status,
  (SELECT coalesce(max(e.seq), 0) FROM outlast.events e WHERE e.run_id = r.id) AS last_seq
FROM outlast.runs r WHERE r.id = $1`;

/** The NOTIFY channel the triggers signal on; the payload is the run id. */
export const EVENTS_CHANNEL = "outlast_events";

/**
 * Register interest in a run's events (see outlast.event_watchers): its events NOTIFY
 * only while someone watches. $1 run id, $2 watcher (process) id, $3 ttl ms
 */
export const WATCH_RUN = `
INSERT INTO outlast.event_watchers (run_id, watcher, expires_at)
VALUES ($1, $2, now() + ($3::int * interval '1 millisecond'))
ON CONFLICT (run_id, watcher) DO UPDATE SET expires_at = EXCLUDED.expires_at`;

/** $1 run id, $2 watcher id */
export const UNWATCH_RUN = `DELETE FROM outlast.event_watchers WHERE run_id = $1 AND watcher = $2`;

/**
 * Keep a process's watches alive and drop everyone's long-expired ones.
 * $1 watcher id, $2 run ids uuid[], $3 ttl ms
 */
export const REFRESH_WATCHES = `
WITH kept AS (
  UPDATE outlast.event_watchers
  SET expires_at = now() + ($3::int * interval '1 millisecond')
  WHERE watcher = $1 AND run_id = ANY($2::uuid[])
  RETURNING 1
), swept AS (
  DELETE FROM outlast.event_watchers WHERE expires_at < now() - interval '1 minute'
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM kept) AS kept, (SELECT count(*)::int FROM swept) AS swept`;
