/**
 * The gateway's limiter: one KeyLimiter per provider × model × API key in this process,
 * all drawing from buckets in the shared store, and told by NOTIFY when another process
 * paused a key or freed a concurrency slot.
 */
import { randomUUID } from "node:crypto";
import type { Db } from "../../store/db.js";
import type { Logger } from "../../util/log.js";
import type { LimitSpec } from "./dimensions.js";
import { KeyLimiter } from "./key-limiter.js";
import { GATEWAY_CHANNEL, LimiterStore, SWEEP_BATCH } from "./store.js";

/** Concurrency slots of a process that died come back after this long. */
const LEASE_MS = 30_000;
/**
 * Housekeeping runs this often: keys nobody used for KEY_IDLE_MS are dropped here, and
 * the store's rows of buckets idle for BUCKET_IDLE_MS are deleted (GATEWAY_SWEEP). A
 * `"*"` cap makes a key per tenant or feature name a caller sends; without this, memory
 * and rows grew by one per name ever seen.
 */
const HOUSEKEEPING_MS = 60_000;
const KEY_IDLE_MS = 10 * 60_000;
/**
 * How long a bucket must go untouched before it may be deleted (only once it is also full
 * again). Assumed longer than any call: a call still open when its bucket is deleted
 * loses its refund or its debt (output beyond the reservation). An hour is far beyond the
 * gateway's waits (60 s at most) and providers' request timeouts; only a stream that runs
 * for over an hour on a key nobody else touched meanwhile would be miscounted.
 */
const BUCKET_IDLE_MS = 60 * 60_000;
/** A round sweeps again while a statement fills its batch (SWEEP_BATCH), this often at most. */
const MAX_SWEEPS_PER_ROUND = 10;

export class Limiter {
  readonly store: LimiterStore;
  private readonly keys = new Map<string, KeyLimiter>();
  private unlisten: (() => Promise<void>) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private housekeepingTimer: NodeJS.Timeout | undefined;
  private housekeepingRound: Promise<void> | undefined;

  constructor(
    db: Db,
    private readonly log: Logger,
    owner = `gw-${randomUUID()}`,
  ) {
    this.store = new LimiterStore(db, owner, LEASE_MS, log);
    this.db = db;
  }

  private readonly db: Db;

  async start(): Promise<void> {
    // NOTIFY is a hint (pauses and freed slots arrive sooner); every decision is still
    // made against the store, so a missed notification only costs a little latency.
    this.unlisten = await this.db.listen(GATEWAY_CHANNEL, (payload) => this.onNotify(payload));
    this.renewTimer = setInterval(() => {
      if ([...this.keys.values()].some((k) => k.slotsHeld > 0)) {
        this.store.renewLeases().catch((err: unknown) => {
          this.log.warn("gateway lease renewal failed", { error: String(err) });
        });
      }
    }, LEASE_MS / 3);
    this.renewTimer.unref();
    // Jittered, so processes started together do not sweep together.
    this.housekeepingTimer = setInterval(
      () => {
        this.housekeepingRound ??= this.housekeeping().finally(() => {
          this.housekeepingRound = undefined;
        });
      },
      HOUSEKEEPING_MS * (0.75 + Math.random() / 2),
    );
    this.housekeepingTimer.unref();
  }

  /** How many keys this process holds local state for. */
  get size(): number {
    return this.keys.size;
  }

  /** Drops idle keys here, and deletes the store's rows of idle buckets. */
  async housekeeping(keyIdleMs = KEY_IDLE_MS, bucketIdleMs = BUCKET_IDLE_MS): Promise<void> {
    const now = Date.now();
    for (const [key, k] of this.keys) if (k.isIdle(now, keyIdleMs)) this.keys.delete(key);
    try {
      for (let i = 0; i < MAX_SWEEPS_PER_ROUND; i++) {
        const swept = await this.store.sweep(bucketIdleMs);
        if (swept.buckets > 0) this.log.debug("gateway: idle limiter buckets deleted", swept);
        if (Math.max(swept.buckets, swept.leases, swept.waiters) < SWEEP_BATCH) break;
      }
    } catch (err) {
      // Only tidiness is lost; the next round tries again.
      this.log.warn("gateway limiter sweep failed", { error: String(err) });
    }
  }

  key(key: string, spec: LimitSpec): KeyLimiter {
    let k = this.keys.get(key);
    if (!k) {
      k = new KeyLimiter(key, spec, this.store);
      this.keys.set(key, k);
    } else {
      k.setSpec(spec);
    }
    return k;
  }

  /** Pauses a key here at once and, through the store, in every other process. */
  async pause(key: string, ms: number): Promise<void> {
    this.keys.get(key)?.pause(ms);
    await this.store.pause(key, ms);
  }

  private onNotify(payload: string): void {
    const [kind, key, ms] = payload.split(" ");
    const k = key === undefined ? undefined : this.keys.get(key);
    if (!k) return;
    if (kind === "p" && ms !== undefined) k.pause(Number(ms));
    else if (kind === "s") k.wake();
  }

  /** Gives all credit back and waits until the store has it. */
  async close(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
    await this.housekeepingRound;
    for (const k of this.keys.values()) k.close();
    await this.store.drain();
    await this.unlisten?.().catch(() => {});
  }
}
