/**
 * `BucketReader.peek` (src/gateway/limiter/store.ts): a bucket as the next take would find
 * it, taking nothing — the view quota admission and `/v1/quota` read through the gateway.
 * Each case reads a bucket with peek and then lets a take report what it saw: a take
 * asking a dimension's whole capacity is refused with `wait = (need − level) × period ÷
 * cap`, which gives the take's own level back. Between the two the bucket only refills,
 * so the take's level lies between the peek's and the peek's plus the refill of the time
 * in between. On PGlite and PostgreSQL; the limiter has no other backend (no Redis) yet.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type Caps, PERIOD_MS, type Vec, zero } from "../../src/gateway/limiter/dimensions.js";
import { type BucketState, LimiterStore } from "../../src/gateway/limiter/store.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { resetGatewayTables } from "./helpers.js";

const KEY = "openai|gpt|peek";
/** rpm, tpm, (no itpm), otpm, tpd; two concurrent calls. */
const CAPS: Caps = [6, 1_000, null, 400, 100_000];
const CONCURRENCY = 2;
const CAPPED = [0, 1, 3, 4];

describe.each(BACKENDS)("limiter peek on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let store: LimiterStore;

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    await resetGatewayTables(db);
    store = new LimiterStore(db, "peek-a", 30_000, silentLogger);
  });

  async function peekOne(caps: Caps = CAPS): Promise<BucketState> {
    const [state] = await store.peek([{ key: KEY, caps }]);
    if (!state) throw new Error("no state");
    return state;
  }

  /**
   * Peeks, then has a take ask dimension `d`'s whole capacity and derives the level it
   * saw from its wait; expects it within the refill of the time between.
   */
  async function expectTakeSeesPeek(caps: Caps = CAPS): Promise<BucketState> {
    const t0 = performance.now();
    const state = await peekOne(caps);
    for (const d of CAPPED) {
      const cap = caps[d] as number;
      const need = zero();
      need[d] = cap;
      const r = await store.take(KEY, caps, CONCURRENCY, need, zero(), 0);
      const elapsedMs = performance.now() - t0 + 5;
      expect(r.blocked, `dimension ${d}`).toBe(["rpm", "tpm", "itpm", "otpm", "tpd"][d]);
      const seen = cap - (r.waitMs * cap) / (PERIOD_MS[d] as number);
      const peeked = state.levels[d] as number;
      expect(seen, `dimension ${d}`).toBeGreaterThanOrEqual(peeked - 1e-6);
      expect(seen, `dimension ${d}`).toBeLessThanOrEqual(
        peeked + (elapsedMs * cap) / (PERIOD_MS[d] as number) + 1e-6,
      );
    }
    return state;
  }

  test("a key never taken from reads full, as a take would make it", async () => {
    const state = await peekOne();
    expect(state).toMatchObject({ key: KEY, levels: [6, 1000, null, 400, 100000], inFlight: 0 });
    expect(state.pausedUntilMs).toBeLessThanOrEqual(state.nowMs);
    // Peeking made no row and took nothing.
    expect(await db.query("SELECT 1 FROM outlast.gateway_buckets")).toEqual([]);
  });

  test("after takes and a give: the refilled levels the next take sees", async () => {
    const call: Vec = [2, 600, 300, 300, 600];
    expect((await store.take(KEY, CAPS, CONCURRENCY, call, zero(), 1)).granted).not.toBeNull();
    const state = await expectTakeSeesPeek();
    expect(state.levels[0]).toBeGreaterThanOrEqual(4);
    expect(state.levels[0]).toBeLessThan(4.5);
    expect(state.levels[2]).toBeNull();
    expect(state.inFlight).toBe(1);

    // Ten seconds later (the row aged by as much): a sixth of a minute's refill.
    await db.query(
      "UPDATE outlast.gateway_buckets SET updated_ms = updated_ms - 10000 WHERE key = $1",
      [KEY],
    );
    const later = await expectTakeSeesPeek();
    expect(later.levels[0]).toBeGreaterThanOrEqual(5);
    expect(later.levels[0]).toBeLessThan(5.5);

    // Output longer than reserved: a debt, the level below 0 until refill pays it.
    store.give(KEY, [0, -1_500, 0, -500, 0], 0);
    await store.drain();
    const owing = await expectTakeSeesPeek();
    expect(owing.levels[1]).toBeLessThan(0);
    expect(owing.levels[3]).toBeLessThan(0);
  });

  test("with capacities changed in the config: refilled from the new ones, as a take does", async () => {
    expect(
      (await store.take(KEY, CAPS, CONCURRENCY, [3, 900, 0, 300, 900], zero(), 0)).granted,
    ).not.toBeNull();
    // A raised limit adds the difference at once; a lowered one keeps what was used.
    const raised: Caps = [12, 2_000, null, 200, 100_000];
    const state = await expectTakeSeesPeek(raised);
    expect(state.levels[0]).toBeGreaterThanOrEqual(9);
    expect(state.levels[0]).toBeLessThan(9.5);
    expect(state.levels[3]).toBeLessThan(0);
  });

  test("slots of a lapsed lease are not counted in flight, as a take reclaims them", async () => {
    const other = new LimiterStore(db, "peek-b", 30_000, silentLogger);
    for (const s of [store, other]) {
      expect((await s.take(KEY, CAPS, CONCURRENCY, zero(), zero(), 1)).granted).not.toBeNull();
    }
    expect((await peekOne()).inFlight).toBe(2);
    expect((await store.take(KEY, CAPS, CONCURRENCY, zero(), zero(), 1)).blocked).toBe(
      "concurrency",
    );
    // peek-b dies: its lease lapses.
    await db.query("UPDATE outlast.gateway_leases SET expires_ms = 0 WHERE owner = 'peek-b'");
    expect((await peekOne()).inFlight).toBe(1);
    // One slot free, as peek said: the take gets it and the next is refused.
    expect((await store.take(KEY, CAPS, CONCURRENCY, zero(), zero(), 1)).granted).not.toBeNull();
    expect((await peekOne()).inFlight).toBe(2);
    expect((await store.take(KEY, CAPS, CONCURRENCY, zero(), zero(), 1)).blocked).toBe(
      "concurrency",
    );
  });

  test("a pause: until when, on the store's clock, as a take waits for it", async () => {
    await store.pause(KEY, 30_000);
    const state = await peekOne();
    expect(state.pausedUntilMs - state.nowMs).toBeGreaterThan(25_000);
    expect(state.pausedUntilMs - state.nowMs).toBeLessThanOrEqual(30_000);
    const r = await store.take(KEY, CAPS, CONCURRENCY, [1, 0, 0, 0, 0], zero(), 0);
    expect(r.blocked).toBe("paused");
    expect(r.waitMs).toBeLessThanOrEqual(state.pausedUntilMs - state.nowMs);
    expect(r.waitMs).toBeGreaterThan(state.pausedUntilMs - state.nowMs - 5_000);
  });

  test("several keys come back in the order asked, known and unknown alike", async () => {
    await store.take("k|b", CAPS, null, [1, 0, 0, 0, 0], zero(), 0);
    const states = await store.peek([
      { key: "k|c", caps: CAPS },
      { key: "k|b", caps: CAPS },
      { key: "k|a", caps: [1, null, null, null, null] },
    ]);
    expect(states.map((s) => s.key)).toEqual(["k|c", "k|b", "k|a"]);
    expect(states.map((s) => s.levels[0])).toEqual([6, expect.closeTo(5, 0), 1]);
    expect(await store.keys("k|", 10)).toEqual(["k|b"]);
  });
});
