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
import { GATEWAY_CHANNEL, LimiterStore } from "./store.js";

/** Concurrency slots of a process that died come back after this long. */
const LEASE_MS = 30_000;

export class Limiter {
  readonly store: LimiterStore;
  private readonly keys = new Map<string, KeyLimiter>();
  private unlisten: (() => Promise<void>) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;

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
    for (const k of this.keys.values()) k.close();
    await this.store.drain();
    await this.unlisten?.().catch(() => {});
  }
}
