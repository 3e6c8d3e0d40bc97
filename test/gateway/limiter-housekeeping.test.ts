/**
 * The limiter's housekeeping: keys nobody uses are dropped from a process's memory, and
 * buckets nothing needs are deleted from the shared store — so a `"*"` cap, which makes a
 * key per tenant or feature name a caller sends, does not grow either by one per name
 * ever seen — while every bucket that still means something stays. On PGlite and
 * PostgreSQL.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type LimitSpec, specOf, type Vec } from "../../src/gateway/limiter/dimensions.js";
import { type Permit, QuotaUnavailable } from "../../src/gateway/limiter/key-limiter.js";
import { Limiter } from "../../src/gateway/limiter/limiter.js";
import { readHeadroom } from "../../src/quota/headroom.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { resetGatewayTables } from "./helpers.js";

const HOUR = 3_600_000;
/** One request of 100 tokens. */
const CALL: Vec = [1, 100, 50, 50, 100];

describe.each(BACKENDS)("limiter housekeeping on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let limiter: Limiter;

  beforeAll(async () => {
    ({ db, close } = await openTestDb(backend));
  });
  afterAll(async () => {
    await close?.();
  });
  beforeEach(async () => {
    await resetGatewayTables(db);
    limiter = new Limiter(db, silentLogger);
    await limiter.start();
  });
  afterEach(async () => {
    await limiter.close();
  });

  /** Takes `n` calls' worth from a key and releases them as billed, stored when it returns. */
  async function spend(key: string, spec: LimitSpec, n: number): Promise<void> {
    const permits: Permit[] = [];
    for (let i = 0; i < n; i++) {
      permits.push(await limiter.key(key, spec).acquire(CALL, Date.now() + 1_000));
    }
    for (const p of permits) p.release(CALL);
    await settle();
  }

  /** Past the idle return of local credit (50 ms), and every write stored. */
  async function settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 120));
    await limiter.store.drain();
  }

  async function age(key: string, ms: number): Promise<void> {
    await db.query(
      "UPDATE outlast.gateway_buckets SET updated_ms = updated_ms - $2::float8 WHERE key = $1",
      [key, ms],
    );
  }

  async function keys(): Promise<string[]> {
    const rows = await db.query<{ key: string }>(
      "SELECT key FROM outlast.gateway_buckets ORDER BY key",
    );
    return rows.map((r) => r.key);
  }

  test("keys nobody uses are dropped from memory; one with a permit out stays", async () => {
    const spec = specOf({ rpm: 10 });
    await spend("cap|tenant|a", spec, 1);
    const held = await limiter.key("cap|tenant|b", spec).acquire(CALL, Date.now() + 1_000);
    await settle();
    expect(limiter.size).toBe(2);
    await limiter.housekeeping(60_000, HOUR);
    expect(limiter.size).toBe(2); // both used within the last minute
    await limiter.housekeeping(0, HOUR);
    expect(limiter.size).toBe(1);
    held.release(CALL);
    await settle();
    await limiter.housekeeping(0, HOUR);
    expect(limiter.size).toBe(0);
    // A dropped key is made again, and still draws from the same bucket: 10 RPM, 1 spent.
    for (let i = 0; i < 9; i++) {
      (await limiter.key("cap|tenant|b", spec).acquire(CALL, Date.now())).release(CALL);
    }
    await expect(
      limiter.key("cap|tenant|b", spec).acquire(CALL, Date.now()),
    ).rejects.toBeInstanceOf(QuotaUnavailable);
  });

  test("only buckets idle, refilled to full, not paused and not in use are deleted", async () => {
    const rpm = specOf({ rpm: 2 });
    const tpd = specOf({ tpd: 1_000 });
    const slots = specOf({ concurrency: 1 });
    await spend("cap|tenant|idle", rpm, 2);
    await spend("cap|tenant|recent", rpm, 2);
    await spend("cap|tenant|paused", rpm, 2);
    await spend("cap|tenant|daily", tpd, 5);
    const inFlight = await limiter.key("cap|tenant|busy", slots).acquire(CALL, Date.now() + 1_000);
    // A slot held by a process that died two hours ago: its lease was never renewed.
    await limiter.key("cap|tenant|dead", slots).acquire(CALL, Date.now() + 1_000);
    await db.query(
      "UPDATE outlast.gateway_leases SET expires_ms = expires_ms - $2::float8 WHERE key = $1",
      ["cap|tenant|dead", 2 * HOUR],
    );
    for (const key of ["idle", "paused", "daily", "busy", "dead"]) {
      await age(`cap|tenant|${key}`, 2 * HOUR);
    }
    await limiter.store.pause("cap|tenant|paused", 60_000);

    // The idle one, and the dead process's, with its lease.
    expect(await limiter.store.sweep(HOUR)).toMatchObject({ buckets: 2, leases: 1 });
    // Two hours refill an RPM bucket; a day's 500 spent tokens are not back yet (~83 are).
    expect(await keys()).toEqual([
      "cap|tenant|busy",
      "cap|tenant|daily",
      "cap|tenant|paused",
      "cap|tenant|recent",
    ]);

    // Its slot given back (which touches the bucket), the busy key goes once idle, and its
    // lease, released to 0 slots, goes too.
    inFlight.release(CALL);
    await settle();
    await age("cap|tenant|busy", 2 * HOUR);
    expect(await limiter.store.sweep(HOUR)).toMatchObject({ buckets: 1, leases: 1 });
    expect(await keys()).not.toContain("cap|tenant|busy");
  });

  test("a deleted bucket comes back full on its next take, and a pause recreates it", async () => {
    const rpm = specOf({ rpm: 2 });
    await spend("cap|tenant|a", rpm, 2);
    await age("cap|tenant|a", 2 * HOUR);
    await limiter.housekeeping(0, HOUR);
    expect(await keys()).toEqual([]);
    expect(limiter.size).toBe(0);
    await spend("cap|tenant|a", rpm, 2);
    await expect(limiter.key("cap|tenant|a", rpm).acquire(CALL, Date.now())).rejects.toMatchObject({
      blocked: "rpm",
    });

    // A provider's 429 on a key whose bucket is gone still pauses it for every process;
    // once the pause is over, the row it made is a full bucket with the key's caps.
    await limiter.store.pause("cap|tenant|gone", 300);
    const other = new Limiter(db, silentLogger);
    await other.start();
    try {
      await expect(
        other.key("cap|tenant|gone", rpm).acquire(CALL, Date.now()),
      ).rejects.toMatchObject({ blocked: "paused" });
      const [room] = await readHeadroom(limiter.store, [
        { id: "gone", limitKey: "cap|tenant|gone", limits: rpm },
      ]);
      expect(room?.remaining).toEqual({ rpm: 2 });
      // Well past the 300 ms pause: with 50 ms of room, a loaded machine once still found
      // the key paused (the pause ends by the database's clock, the wait by this process's).
      await new Promise((r) => setTimeout(r, 800));
      for (let i = 0; i < 2; i++) {
        (await other.key("cap|tenant|gone", rpm).acquire(CALL, Date.now())).release(CALL);
      }
      await expect(
        other.key("cap|tenant|gone", rpm).acquire(CALL, Date.now()),
      ).rejects.toMatchObject({ blocked: "rpm" });
      const [row] = await db.query<{ caps: (number | null)[] }>(
        "SELECT caps FROM outlast.gateway_buckets WHERE key = $1",
        ["cap|tenant|gone"],
      );
      expect(row?.caps).toEqual([2, null, null, null, null]);
    } finally {
      await other.close();
    }
  });
});

describe("a sweep racing a take, on postgres", () => {
  test("a take whose bucket is deleted under it makes the bucket again and records what it took", async () => {
    const { db, url, close } = await openTestDb("postgres");
    const sweeper = new pg.Client({ connectionString: url });
    await sweeper.connect();
    const limiter = new Limiter(db, silentLogger);
    try {
      const key = "cap|tenant|raced";
      const caps = specOf({ rpm: 10 }).caps;
      await limiter.store.take(key, caps, null, CALL, [0, 0, 0, 0, 0], 0);
      // The sweeper holds the row, as GATEWAY_SWEEP does between choosing and deleting it.
      await sweeper.query("BEGIN");
      await sweeper.query("SELECT 1 FROM outlast.gateway_buckets WHERE key = $1 FOR UPDATE", [key]);
      const take = limiter.store.take(key, caps, null, CALL, [0, 0, 0, 0, 0], 0);
      await until(
        async () => {
          const r = await sweeper.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
          );
          return r.rows[0].n > 0;
        },
        5_000,
        "the take to wait for the row lock",
      );
      await sweeper.query("DELETE FROM outlast.gateway_buckets WHERE key = $1", [key]);
      await sweeper.query("COMMIT");
      expect((await take).granted).not.toBeNull();
      // Before migration 009 the take granted from the deleted row and stored nothing.
      const rows = await db.query<{ levels: number[] }>(
        "SELECT levels FROM outlast.gateway_buckets WHERE key = $1",
        [key],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.levels[0]).toBeCloseTo(9, 0);
    } finally {
      await sweeper.end();
      await limiter.close();
      await close();
    }
  });
});
