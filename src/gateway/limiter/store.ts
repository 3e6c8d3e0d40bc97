/**
 * The limiter's round trips to the shared store. Writes that nobody waits for (credit
 * given back, header observations) are coalesced per key: while one is in flight, later
 * ones merge into the next, so a busy key costs at most one such statement at a time.
 */
import type { Db } from "../../store/db.js";
import {
  GATEWAY_BUCKET_KEYS,
  GATEWAY_GIVE,
  GATEWAY_OBSERVE,
  GATEWAY_PAUSE,
  GATEWAY_PEEK,
  GATEWAY_RENEW_LEASES,
  GATEWAY_SWEEP,
  GATEWAY_TAKE,
} from "../../store/sql/gateway.js";
import type { Logger } from "../../util/log.js";
import { add, type Caps, isZero, type Vec, zero } from "./dimensions.js";

export const GATEWAY_CHANNEL = "outlast_gateway";
/** A sweep deletes at most this many rows of a kind per statement. */
export const SWEEP_BATCH = 1_000;

export interface TakeResult {
  granted: Vec | null;
  /** Why not: `paused`, a dimension (`rpm`…), `concurrency`, or `too_large:<dim>`. */
  blocked: string | null;
  waitMs: number;
}

/** A key and the caps it is limited by, as a take would pass them. */
export interface BucketKey {
  key: string;
  caps: Caps;
}

/** A shared bucket as the next take would find it (nothing taken). */
export interface BucketState {
  key: string;
  /**
   * Per dimension `[rpm, tpm, itpm, otpm, tpd]`, what is left refilled to `nowMs`, as the
   * take's own refill computes it; null where uncapped. Negative while a call that used
   * more than it reserved is paid off.
   */
  levels: (number | null)[];
  /** Concurrency slots held, less those of leases that lapsed (a take reclaims them). */
  inFlight: number;
  /** Until when a provider's 429 paused the key (store clock, ms; 0: never). */
  pausedUntilMs: number;
  /** The store's clock when it was read (ms since the epoch). */
  nowMs: number;
}

/**
 * The buckets read without taking from them: what quota admission and `/v1/quota` see,
 * through `Gateway.buckets`. Implemented by each limiter store (today: LimiterStore, on
 * PostgreSQL and PGlite); `peek` must agree with that store's own refill.
 */
export interface BucketReader {
  /** The buckets of `keys`, in the order asked. */
  peek(keys: readonly BucketKey[]): Promise<BucketState[]>;
  /** Keys of the buckets that exist, starting with `prefix`, in key order, at most `limit`. */
  keys(prefix: string, limit: number): Promise<string[]>;
}

interface PendingWrite {
  refund: Vec;
  slots: number;
  /** Lowest bound seen per dimension (null: not reported). */
  remaining: (number | null)[] | null;
  elapsedMs: number;
}

export class LimiterStore implements BucketReader {
  private readonly pending = new Map<string, PendingWrite>();
  private readonly flushing = new Set<string>();
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly db: Db,
    readonly owner: string,
    readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  async take(
    key: string,
    caps: Caps,
    concurrency: number | null,
    need: Vec,
    extra: Vec,
    slots: number,
  ): Promise<TakeResult> {
    const [row] = await this.db.query<{
      granted: number[] | null;
      blocked: string | null;
      wait_ms: number;
    }>(GATEWAY_TAKE, [key, caps, concurrency, need, extra, slots, this.owner, this.leaseMs]);
    return {
      granted: (row?.granted as Vec | null) ?? null,
      blocked: row?.blocked ?? null,
      waitMs: Number(row?.wait_ms ?? 0),
    };
  }

  /** Gives credit and slots back, coalesced with other gives of the same key. */
  give(key: string, refund: Vec, slots: number): void {
    const p = this.entry(key);
    p.refund = add(p.refund, refund);
    p.slots += slots;
    this.kick(key);
  }

  /**
   * Records the provider's remaining quota, seen `elapsedMs` after the request was sent.
   * Coalesced: only the tightest bound per dimension is kept.
   */
  observe(key: string, remaining: (number | null)[], elapsedMs: number): void {
    const p = this.entry(key);
    if (p.remaining === null) {
      p.remaining = remaining;
      p.elapsedMs = elapsedMs;
    } else {
      // Keep the tighter of the two bounds per dimension; the elapsed time of the newer
      // observation is the shorter one, so using it keeps the bound safe (never too low).
      p.remaining = p.remaining.map((r, i) => {
        const n = remaining[i] ?? null;
        return r === null ? n : n === null ? r : Math.min(r, n);
      });
      p.elapsedMs = Math.max(p.elapsedMs, elapsedMs);
    }
    this.kick(key);
  }

  async peek(keys: readonly BucketKey[]): Promise<BucketState[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.query<{
      key: string;
      levels: (number | null)[];
      in_flight: number;
      paused_until_ms: number;
      now_ms: number;
    }>(GATEWAY_PEEK, [JSON.stringify(keys.map((k) => ({ key: k.key, caps: k.caps })))]);
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return keys.map(({ key }) => {
      const r = byKey.get(key);
      if (!r) throw new Error(`GATEWAY_PEEK returned no row for ${key}`);
      return {
        key,
        levels: r.levels,
        inFlight: r.in_flight,
        pausedUntilMs: Number(r.paused_until_ms),
        nowMs: Number(r.now_ms),
      };
    });
  }

  async keys(prefix: string, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ key: string }>(GATEWAY_BUCKET_KEYS, [prefix, limit]);
    return rows.map((r) => r.key);
  }

  async pause(key: string, ms: number): Promise<void> {
    await this.db.query(GATEWAY_PAUSE, [key, ms]);
  }

  /**
   * Deletes rows nothing needs (GATEWAY_SWEEP): buckets idle `idleMs` and full, and more,
   * up to `batch` of each kind.
   */
  async sweep(
    idleMs: number,
    batch = SWEEP_BATCH,
  ): Promise<{ buckets: number; leases: number; waiters: number }> {
    const [row] = await this.db.query<{ buckets: number; leases: number; waiters: number }>(
      GATEWAY_SWEEP,
      [idleMs, batch],
    );
    return row ?? { buckets: 0, leases: 0, waiters: 0 };
  }

  async renewLeases(): Promise<void> {
    await this.db.query(GATEWAY_RENEW_LEASES, [this.owner, this.leaseMs]);
  }

  /** Resolves when every coalesced write has reached the store. */
  async drain(): Promise<void> {
    while (this.pending.size > 0 || this.flushing.size > 0) {
      await new Promise<void>((resolve) => this.idle.add(resolve));
    }
  }

  private entry(key: string): PendingWrite {
    let p = this.pending.get(key);
    if (!p) {
      p = { refund: zero(), slots: 0, remaining: null, elapsedMs: 0 };
      this.pending.set(key, p);
    }
    return p;
  }

  private kick(key: string): void {
    if (this.flushing.has(key)) return;
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    this.flushing.add(key);
    this.write(key, p)
      .catch((err: unknown) => {
        // Lost credit only makes the limiter more conservative until refill covers it;
        // lost slots come back when the lease lapses. Neither is worth failing a call.
        this.log.warn("gateway limiter write failed", { key, error: String(err) });
      })
      .finally(() => {
        this.flushing.delete(key);
        if (this.pending.has(key)) this.kick(key);
        else if (this.pending.size === 0 && this.flushing.size === 0) {
          for (const f of this.idle) f();
          this.idle.clear();
        }
      });
  }

  private async write(key: string, p: PendingWrite): Promise<void> {
    if (!isZero(p.refund) || p.slots > 0) {
      await this.db.query(GATEWAY_GIVE, [key, p.refund, p.slots, this.owner]);
    }
    if (p.remaining !== null) {
      await this.db.query(GATEWAY_OBSERVE, [key, p.remaining, p.elapsedMs]);
    }
  }
}
