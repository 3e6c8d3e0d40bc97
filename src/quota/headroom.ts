import {
  type BucketReader,
  type Cap,
  CapTable,
  DIMENSIONS,
  type Target,
} from "../gateway/index.js";

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

/**
 * The gateway's shared buckets for some targets, as its limiter's next take would find
 * them (`BucketReader.peek`: refilled to the store's now by the limiter's own refill).
 * A key never used yet has its full capacity.
 */
export async function readHeadroom(buckets: BucketReader, targets: Metered[]): Promise<Headroom[]> {
  if (targets.length === 0) return [];
  const states = await buckets.peek(targets.map((t) => ({ key: t.limitKey, caps: t.limits.caps })));
  return targets.map((t, i) => {
    const state = states[i];
    const caps: Headroom["caps"] = {};
    const remaining: Headroom["remaining"] = {};
    DIMENSIONS.forEach((dim, d) => {
      const cap = t.limits.caps[d];
      if (cap === null || cap === undefined) return;
      caps[dim] = cap;
      remaining[dim] = Math.max(0, Math.min(cap, Math.floor(state?.levels[d] ?? cap)));
    });
    return {
      target: t.id,
      key: t.limitKey,
      caps,
      remaining,
      concurrency: t.limits.concurrency,
      inFlight: state?.inFlight ?? 0,
      pausedUntil:
        state && state.pausedUntilMs > state.nowMs
          ? new Date(state.pausedUntilMs).toISOString()
          : null,
    };
  });
}

/**
 * The caps a project is held to: every one configured by name, used or not, and the
 * buckets a `"*"` cap made for the names seen so far (the first MAX_CAP_BUCKETS by key).
 * Other projects' buckets are not shown.
 */
export async function capMeters(
  buckets: BucketReader,
  caps: CapTable,
  project: string,
): Promise<Metered[]> {
  if (caps.empty) return [];
  const byKey = new Map<string, Cap>(caps.named(project).map((c) => [c.key, c]));
  for (const key of await buckets.keys(CapTable.keyPrefix(project), MAX_CAP_BUCKETS)) {
    const c = caps.fromKey(key);
    if (c && c.project === project) byKey.set(key, c);
  }
  return [...byKey.values()].map(capMeter);
}
