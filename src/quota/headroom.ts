import type { Target } from "../gateway/config.js";
import { CAP_KEY_PREFIX, type Cap, type CapTable } from "../gateway/limiter/caps.js";
import { DIMENSIONS, PERIOD_MS } from "../gateway/limiter/dimensions.js";
import type { Db } from "../store/db.js";
import { BUCKET_STATES, CAP_BUCKET_KEYS } from "../store/sql/quota.js";

/** Something metered by one limiter key: a provider's target, or a gateway.caps cap. */
export type Metered = Pick<Target, "id" | "limitKey" | "limits">;

/** A cap as what `readHeadroom` reads: its label names it, as in a throttled run's limit. */
export function capMeter(c: Cap): Metered {
  return { id: c.label, limitKey: c.key, limits: c.spec };
}

/** How many `"*"`-made cap buckets `/v1/quota` lists at most. */
const MAX_CAP_BUCKETS = 1_000;

/** A limit key's quota as it stands now: caps and what is left, refilled to now. */
export interface Headroom {
  /** `provider/model`, or a cap: `tenant "acme"`. */
  target: string;
  key: string;
  caps: Partial<Record<(typeof DIMENSIONS)[number], number>>;
  remaining: Partial<Record<(typeof DIMENSIONS)[number], number>>;
  concurrency: number | null;
  inFlight: number;
  pausedUntil: string | null;
}

interface BucketRow {
  key: string;
  caps: (number | null)[];
  levels: number[];
  updated_ms: number;
  paused_until_ms: number;
  in_flight: number;
  concurrency: number | null;
  now_ms: number;
}

/**
 * Reads the gateway's shared buckets for some targets, refilled to the database's now
 * the same way `gateway_take` refills them. A key never used yet has its full capacity.
 */
export async function readHeadroom(db: Db, targets: Metered[]): Promise<Headroom[]> {
  if (targets.length === 0) return [];
  const rows = await db.query<BucketRow>(BUCKET_STATES, [targets.map((t) => t.limitKey)]);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  return targets.map((t) => {
    const row = byKey.get(t.limitKey);
    const caps: Headroom["caps"] = {};
    const remaining: Headroom["remaining"] = {};
    DIMENSIONS.forEach((dim, i) => {
      const cap = t.limits.caps[i];
      if (cap === null || cap === undefined) return;
      caps[dim] = cap;
      if (!row) {
        remaining[dim] = cap;
        return;
      }
      const level =
        (row.levels[i] ?? cap) + (cap * (row.now_ms - row.updated_ms)) / (PERIOD_MS[i] ?? 60_000);
      remaining[dim] = Math.max(0, Math.min(cap, Math.floor(level)));
    });
    return {
      target: t.id,
      key: t.limitKey,
      caps,
      remaining,
      concurrency: t.limits.concurrency,
      inFlight: row?.in_flight ?? 0,
      pausedUntil:
        row && row.paused_until_ms > row.now_ms
          ? new Date(row.paused_until_ms).toISOString()
          : null,
    };
  });
}

/**
 * The caps to show: every one configured by name, used or not, and the buckets a `"*"`
 * cap made for the names seen so far (the first MAX_CAP_BUCKETS by key).
 */
export async function capMeters(db: Db, caps: CapTable): Promise<Metered[]> {
  if (caps.empty) return [];
  const byKey = new Map<string, Cap>(caps.named().map((c) => [c.key, c]));
  const stored = await db.query<{ key: string }>(CAP_BUCKET_KEYS, [
    CAP_KEY_PREFIX,
    MAX_CAP_BUCKETS,
  ]);
  for (const { key } of stored) {
    const c = caps.fromKey(key);
    if (c) byKey.set(key, c);
  }
  return [...byKey.values()].map(capMeter);
}
