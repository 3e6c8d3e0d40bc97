/**
 * The local side of one limiter key (provider × model × API key): a FIFO of callers
 * waiting for quota, and credit this process took from the shared bucket ahead of need.
 * State machine and protocol: ../ARCHITECTURE.md ("Limiter").
 *
 * Why local credit: a take from the store is one PL/pgSQL round trip, ~1.1 ms on
 * PostgreSQL and PGlite here — more than the whole latency budget of the gateway
 * (Portkey adds ~0.7 ms). Taking `PREFETCH_MS` worth of refill at a time lets most calls
 * on a busy key reserve in-process in microseconds, while every unit of quota is still
 * taken from the one shared bucket before it is spent.
 */
import { withDbRetry } from "../../store/retry.js";
import {
  add,
  covers,
  isZero,
  type LimitSpec,
  PERIOD_MS,
  sub,
  type Vec,
  zero,
} from "./dimensions.js";
import type { LimiterStore } from "./store.js";

/** Credit taken ahead: this long of refill (bounded by PREFETCH_FRACTION of capacity). */
const PREFETCH_MS = 250;
/** Never hold more than this share of a bucket as idle credit in one process. */
const PREFETCH_FRACTION = 0.05;
/** Unused credit goes back to the shared bucket after this long without a request. */
const CREDIT_IDLE_MS = 50;
/** A waiter blocked on concurrency re-checks this often (a freed slot also wakes it). */
const CONCURRENCY_POLL_MS = 100;
/** A key that had to wait for the store this recently counts as contended. */
const CONTENDED_MS = 1_000;
/**
 * Waiters in different processes wake up to 10% (+5 ms) later than the computed time, at
 * random, so the same process does not win every race for the refill. It costs no
 * throughput: the bucket keeps refilling while they sleep, and nothing is lost until it
 * is full.
 */
const WAKE_JITTER = 0.1;

/** The caller could not get quota before its deadline (or ever, when `tooLarge`). */
export class QuotaUnavailable extends Error {
  constructor(
    readonly key: string,
    /** `paused`, a dimension name, `concurrency`, or `too_large:<dim>`. */
    readonly blocked: string,
    readonly retryAfterMs: number,
  ) {
    super(
      blocked.startsWith("too_large")
        ? `the request alone exceeds the ${blocked.slice(10)} limit of ${key}`
        : `no ${blocked} quota on ${key} for ${Math.ceil(retryAfterMs)} ms`,
    );
    this.name = "QuotaUnavailable";
  }
  get tooLarge(): boolean {
    return this.blocked.startsWith("too_large");
  }
}

/** Quota held for one call. `release` exactly once, with the usage actually billed. */
export interface Permit {
  readonly key: string;
  readonly reserved: Vec;
  /**
   * `actual`: what the provider billed (the difference is refunded, or owed when more);
   * `null`: keep the reservation charged (the provider may have billed it: a timeout).
   */
  release(actual: Vec | null): void;
}

interface Waiter {
  need: Vec;
  slots: number;
  deadline: number;
  resolve(p: Permit): void;
  reject(e: unknown): void;
  done: boolean;
  timer?: NodeJS.Timeout;
  unlisten?: () => void;
}

export class KeyLimiter {
  private credit: Vec = zero();
  private readonly queue: Waiter[] = [];
  private pumping = false;
  private pausedUntil = 0;
  private lastWaitMs = 0;
  private lastActivity = 0;
  private lastBlockedAt = 0;
  /**
   * Whether this process has asked the store about the key at least once. Until then it
   * cannot know of a pause set by another process before it subscribed, so the first
   * call always goes to the store; afterwards NOTIFY brings pauses.
   */
  private synced = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private wakeSleeper: (() => void) | undefined;
  /** Concurrency slots this process holds on the key (for lease renewal). */
  slotsHeld = 0;
  /** Permits granted and not yet released. */
  private held = 0;

  constructor(
    readonly key: string,
    private spec: LimitSpec,
    private readonly store: LimiterStore,
  ) {}

  setSpec(spec: LimitSpec): void {
    this.spec = spec;
  }

  /**
   * Reserves `need` (and a concurrency slot when the key has a concurrency limit),
   * waiting in FIFO order until `deadline` (epoch ms). Rejects with QuotaUnavailable
   * as soon as the known wait passes the deadline, so a caller that cannot wait hears
   * it at once, with the time to retry.
   */
  acquire(need: Vec, deadline: number, signal?: AbortSignal): Promise<Permit> {
    const slots = this.spec.concurrency === null ? 0 : 1;
    this.lastActivity = Date.now();
    if (
      this.synced &&
      this.queue.length === 0 &&
      slots === 0 &&
      this.pausedUntil <= this.lastActivity &&
      covers(this.credit, need, this.spec.caps)
    ) {
      return Promise.resolve(this.grant(need, 0));
    }
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { need, slots, deadline, resolve, reject, done: false };
      const left = deadline - Date.now();
      if (left > 0 && Number.isFinite(left)) {
        w.timer = setTimeout(() => this.expire(w), left);
      }
      if (signal) {
        const onAbort = () => this.finish(w, signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        w.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      this.queue.push(w);
      void this.pump();
    });
  }

  /** A provider said to wait: nobody here sends on this key until then. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  /** Something changed in the store (a slot was freed): re-check now. */
  wake(): void {
    this.wakeSleeper?.();
  }

  /** Gives every unit of unused credit back to the shared bucket. */
  returnCredit(): void {
    const limited = this.limitedOnly(this.credit);
    this.credit = zero();
    if (!isZero(limited)) this.store.give(this.key, limited, 0);
  }

  /**
   * Whether nothing here needs this key's local state (no caller waiting, no permit out,
   * no credit, no pause) and no call came for `forMs`: the Limiter may drop it and make it
   * again the next time, as for a key never used.
   */
  isIdle(now: number, forMs: number): boolean {
    return (
      this.queue.length === 0 &&
      !this.pumping &&
      this.held === 0 &&
      this.slotsHeld === 0 &&
      this.idleTimer === undefined &&
      isZero(this.limitedOnly(this.credit)) &&
      this.pausedUntil <= now &&
      now - this.lastActivity >= forMs
    );
  }

  private grant(need: Vec, slots: number): Permit {
    this.credit = sub(this.credit, this.limitedOnly(need));
    this.slotsHeld += slots;
    this.held++;
    this.scheduleIdleReturn();
    let released = false;
    return {
      key: this.key,
      reserved: need,
      release: (actual) => {
        if (released) return;
        released = true;
        this.held--;
        if (actual !== null) {
          const delta = this.limitedOnly(sub(need, actual));
          if (Date.now() - this.lastBlockedAt < CONTENDED_MS) {
            // Others may be waiting: a refund kept here would let this process need less
            // from the bucket than its peers and win every race for the refill (measured:
            // one of four processes served 0 calls in 40 s). Give it back at once.
            this.store.give(this.key, delta, 0);
          } else {
            // Uncontended: keep it as local credit, used without a round trip; the idle
            // return gives it back to everyone.
            this.credit = add(this.credit, delta);
            this.lastActivity = Date.now();
            this.scheduleIdleReturn();
          }
        }
        if (slots > 0) {
          this.slotsHeld -= slots;
          this.store.give(this.key, zero(), slots);
        }
      },
    };
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0] as Waiter;
        const now = Date.now();
        if (this.pausedUntil > now) {
          await this.waitOrFail(head, "paused", this.pausedUntil - now);
          continue;
        }
        if (this.synced && head.slots === 0 && covers(this.credit, head.need, this.spec.caps)) {
          this.finish(head, undefined, this.grant(head.need, 0));
          continue;
        }
        const storeNeed = this.limitedOnly(sub(head.need, this.credit)).map((x) =>
          Math.max(0, x),
        ) as Vec;
        let res: Awaited<ReturnType<LimiterStore["take"]>>;
        try {
          res = await withDbRetry(
            () =>
              this.store.take(
                this.key,
                this.spec.caps,
                this.spec.concurrency,
                storeNeed,
                this.prefetch(),
                head.slots,
              ),
            { maxElapsedMs: 2_000 },
          );
        } catch (err) {
          this.finish(head, err);
          continue;
        }
        this.synced = true;
        if (res.granted) {
          this.credit = add(this.credit, res.granted);
          if (head.done) {
            // The caller left while we asked: the credit stays for the next one, but a
            // slot must go straight back.
            if (head.slots > 0) this.store.give(this.key, zero(), head.slots);
          } else {
            this.finish(head, undefined, this.grant(head.need, head.slots));
          }
          continue;
        }
        const blocked = res.blocked ?? "unknown";
        if (blocked.startsWith("too_large")) {
          this.finish(head, new QuotaUnavailable(this.key, blocked, Number.POSITIVE_INFINITY));
          continue;
        }
        if (blocked === "paused") this.pausedUntil = Date.now() + res.waitMs;
        this.lastBlockedAt = Date.now();
        const base = blocked === "concurrency" ? CONCURRENCY_POLL_MS : Math.max(1, res.waitMs);
        const wait = base * (1 + WAKE_JITTER * Math.random()) + 5 * Math.random();
        await this.waitOrFail(head, blocked, wait);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Sleeps `ms` (woken early by `wake`), or fails the head now if that passes its deadline. */
  private async waitOrFail(head: Waiter, blocked: string, ms: number): Promise<void> {
    this.lastWaitMs = ms;
    if (head.done) return;
    if (Date.now() + ms > head.deadline) {
      this.finish(head, new QuotaUnavailable(this.key, blocked, ms));
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleeper = done;
    });
    this.wakeSleeper = undefined;
  }

  /** A waiter's deadline passed while others were ahead of it. */
  private expire(w: Waiter): void {
    const paused = this.pausedUntil - Date.now();
    const estimate = Math.max(1, paused > 0 ? paused : this.lastWaitMs);
    this.finish(w, new QuotaUnavailable(this.key, paused > 0 ? "paused" : "queued", estimate));
  }

  private finish(w: Waiter, err: unknown, permit?: Permit): void {
    if (w.done) return;
    w.done = true;
    if (w.timer) clearTimeout(w.timer);
    w.unlisten?.();
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
    if (permit) w.resolve(permit);
    else w.reject(err);
  }

  /**
   * Credit to take beyond the head's need: the demand queued behind it plus
   * PREFETCH_MS of refill, capped at PREFETCH_FRACTION of capacity.
   */
  private prefetch(): Vec {
    const queued = this.queue.slice(1).reduce((acc, w) => add(acc, w.need), zero());
    return this.spec.caps.map((cap, i) =>
      cap === null
        ? 0
        : Math.min(
            cap * PREFETCH_FRACTION,
            (queued[i] as number) + (cap * PREFETCH_MS) / (PERIOD_MS[i] as number),
          ),
    ) as Vec;
  }

  private limitedOnly(v: Vec): Vec {
    return v.map((x, i) => (this.spec.caps[i] === null ? 0 : x)) as Vec;
  }

  private scheduleIdleReturn(): void {
    if (this.idleTimer) return;
    const check = () => {
      const idleFor = Date.now() - this.lastActivity;
      if (idleFor >= CREDIT_IDLE_MS && this.queue.length === 0) {
        this.idleTimer = undefined;
        this.returnCredit();
      } else {
        this.idleTimer = setTimeout(check, Math.max(1, CREDIT_IDLE_MS - idleFor));
        this.idleTimer.unref();
      }
    };
    this.idleTimer = setTimeout(check, CREDIT_IDLE_MS);
    this.idleTimer.unref();
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const w of [...this.queue]) this.finish(w, new Error("the gateway is closing"));
    this.returnCredit();
  }
}
