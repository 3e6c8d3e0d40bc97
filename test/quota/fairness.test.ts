import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { QuotaService } from "../../src/quota/admission.js";
import { Fairness } from "../../src/quota/fairness.js";
import type { Db, Queryable } from "../../src/store/db.js";
import { CLAIM_RUNS, CLAIM_RUNS_FAIR, FINISH_AND_CLAIM_FAIR } from "../../src/store/sql/runs.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { meteredAgent } from "./metered.js";

/**
 * Weighted fairness between tenants (src/quota/fairness.ts): claim order and the split of
 * a full rate share. Runs hold their slot until the test releases them, oldest first, so
 * the order in which runs start is exact rather than timing-dependent.
 */
describe.each(BACKENDS)("tenant fairness on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let worker: Worker | undefined;
  /** Tenants in the order their runs started. */
  let starts: { id: string; tenant: string }[];
  /** Runs holding a slot, by id: call to let the run finish. */
  let holding: Map<string, () => void>;
  let statements: string[];

  const held = defineAgent({
    name: "held",
    run: async (ctx, tenant: string) => {
      starts.push({ id: ctx.runId, tenant });
      await new Promise<void>((resolve) => holding.set(ctx.runId, resolve));
      return tenant;
    },
  });

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, [held]);
    await service.start();
    starts = [];
    holding = new Map();
    statements = [];
  });

  afterEach(async () => {
    for (const release of holding.values()) release();
    await worker?.stop(1_000);
    worker = undefined;
    await service.stop();
    await close();
  });

  async function submit(tenant: string, n: number, queue: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      await service.submit({ agent: "held", input: tenant, queue, tags: { tenant } });
    }
  }

  async function startWorker(opts: Partial<ConstructorParameters<typeof Worker>[0]>) {
    // Records the statements sent, to tell which claim SQL ran.
    const spy: Db = Object.create(db, {
      query: {
        value: <R>(sql: string, params?: readonly unknown[]) => {
          statements.push(sql);
          return db.query<R>(sql, params);
        },
      },
      transaction: {
        value: <T>(fn: (tx: Queryable) => Promise<T>) =>
          db.transaction((tx) =>
            fn({
              query: <R>(sql: string, params?: readonly unknown[]) => {
                statements.push(sql);
                return tx.query<R>(sql, params);
              },
              exec: (sql: string) => tx.exec(sql),
            }),
          ),
      },
    });
    worker = new Worker({ db: spy, agents: [held], pollIntervalMs: 50, ...opts });
    await worker.start();
  }

  /**
   * Lets `total` runs finish one at a time, oldest start first; before each release, waits
   * until every slot the queue allows is taken again, so each claim sees the same state.
   */
  async function releaseInStartOrder(total: number, slots: number): Promise<void> {
    for (let released = 0; released < total; released++) {
      await waitFor(
        () => holding.size === Math.min(slots, total - released),
        `${Math.min(slots, total - released)} runs holding slots (${released} released)`,
      );
      const oldest = starts[released]!;
      const release = holding.get(oldest.id)!;
      holding.delete(oldest.id);
      release();
    }
  }

  it("a burst of one tenant does not make another's runs wait behind it (queue cap 2)", async () => {
    await submit("A", 40, "capped");
    await submit("B", 4, "capped");
    await startWorker({
      queues: ["capped"],
      queueLimits: { capped: 2 },
      concurrency: 10,
      fairness: new Fairness({}),
    });
    await releaseInStartOrder(44, 2);
    // Equal weights: the tenants take turns while both wait; B's four runs start among the
    // first eight, not after A's forty.
    expect(starts.slice(0, 8).filter((s) => s.tenant === "B")).toHaveLength(4);
    expect(starts.filter((s) => s.tenant === "A")).toHaveLength(40);
    expect(statements).toContain(CLAIM_RUNS_FAIR);
  });

  it("without a fairness config, claims keep their old order and SQL", async () => {
    await submit("A", 40, "capped");
    await submit("B", 4, "capped");
    await startWorker({ queues: ["capped"], queueLimits: { capped: 2 }, concurrency: 10 });
    await releaseInStartOrder(44, 2);
    // Oldest first: B waits behind all of A's burst.
    expect(starts.findIndex((s) => s.tenant === "B")).toBe(40);
    expect(statements).toContain(CLAIM_RUNS);
    expect(statements.some((s) => s.includes("runs_tenant") || s === CLAIM_RUNS_FAIR)).toBe(false);
  });

  it("weights 3:1 give three starts to one while both tenants have a backlog", async () => {
    await submit("A", 40, "default");
    await submit("B", 40, "default");
    await startWorker({ concurrency: 4, fairness: new Fairness({ tenants: { A: 3 } }) });
    await releaseInStartOrder(40, 4);
    const first40 = starts.slice(0, 40);
    expect(first40.filter((s) => s.tenant === "A")).toHaveLength(30);
    // And throughout, not only on the whole: 3 of every 4 starts.
    for (let i = 0; i + 8 <= 40; i += 8) {
      expect(first40.slice(i, i + 8).filter((s) => s.tenant === "B").length).toBe(2);
    }
    // Slots were refilled by the statement that finished the runs before them.
    expect(statements).toContain(FINISH_AND_CLAIM_FAIR);
  });

  it("untagged runs are one tenant, and a lone tenant gets every slot", async () => {
    for (let i = 0; i < 6; i++) await service.submit({ agent: "held", input: "" });
    await startWorker({ concurrency: 3, fairness: new Fairness({ defaultWeight: 2 }) });
    await waitFor(() => holding.size === 3, "three runs holding slots");
    await releaseInStartOrder(6, 3);
    expect(starts).toHaveLength(6);
  });

  it("splits a full rate share among tenants by weight", async () => {
    // Two runs at full speed plus two whose whole forecast fits in the bucket = a share of 4.
    const { paced, metered: gateway } = await meteredAgent(db, "http://127.0.0.1:9");
    const quota = (fairness?: Fairness) => {
      const q = new QuotaService(db, gateway, 0, fairness);
      q.jitter = () => 1;
      return q;
    };
    const runs = async (counts: Record<string, number>, throttled: Record<string, number> = {}) => {
      await db.query("DELETE FROM outlast.runs WHERE agent = 'paced-runs'");
      for (const [status, byTenant] of [
        ["running", counts],
        ["throttled", throttled],
      ] as const) {
        for (const [tenant, n] of Object.entries(byTenant)) {
          await db.query(
            `INSERT INTO outlast.runs (project, id, agent, queue, status, max_attempts, tags)
             SELECT 'default', gen_random_uuid(), 'paced-runs', 'default', $3, 1,
               CASE WHEN $2 = '' THEN '{}'::jsonb ELSE jsonb_build_object('tenant', $2) END
             FROM generate_series(1, $1::int)`,
            [n, tenant, status],
          );
        }
      }
    };
    const fair = quota(new Fairness({}));

    // Work-conserving: a tenant alone uses the whole share of 4; the 5th waits.
    await runs({ A: 4 });
    expect(await fair.check(paced, { tenant: "A" })).toMatchObject({ admit: true });
    await runs({ A: 5 });
    expect(await fair.check(paced, { tenant: "A" })).toMatchObject({ admit: false });

    // A's burst fills the share; B's runs (each counted as running when asked) are
    // admitted up to B's half of it, 2 — not after A's burst drains.
    await runs({ A: 4, B: 1 });
    expect(await fair.check(paced, { tenant: "B" })).toMatchObject({ admit: true });
    await runs({ A: 4, B: 2 });
    expect(await fair.check(paced, { tenant: "B" })).toMatchObject({ admit: true });
    await runs({ A: 4, B: 3 }, { B: 1 });
    const overB = await fair.check(paced, { tenant: "B" });
    expect(overB).toMatchObject({ admit: false, limit: "sim/metered-model rpm" });
    expect(overB.admit ? "" : overB.reason).toMatch(/tenant "B" .*share of 2 /);
    // A minute a run, 2 slots for B, 1 B run waiting ahead: (60 s ÷ 2) × (1 + 1/2).
    expect(overB.admit ? 0 : overB.etaMs).toBe(45_000);
    // A, over its half while B waits, is refused its next run.
    await runs({ A: 4, B: 2 }, { B: 3 });
    expect(await fair.check(paced, { tenant: "A" })).toMatchObject({ admit: false });
    // Room in the share: anyone starts.
    await runs({ A: 3 }, { B: 3 });
    expect(await fair.check(paced, { tenant: "A" })).toMatchObject({ admit: true });

    // Weights: B 3, A 1 → B's part is 3 of 4; untagged runs are tenant "".
    const weighted = quota(new Fairness({ tenants: { B: 3 } }));
    await runs({ A: 4, B: 3 });
    expect(await weighted.check(paced, { tenant: "B" })).toMatchObject({ admit: true });
    await runs({ A: 4, B: 4 });
    expect(await weighted.check(paced, { tenant: "B" })).toMatchObject({ admit: false });
    await runs({ B: 4, "": 1 });
    expect(await weighted.check(paced, { tenant: "" })).toMatchObject({ admit: true });

    // Fairness off: the share is the agent's, whoever asks.
    await runs({ A: 4, B: 1 });
    expect(await quota().check(paced, { tenant: "B" })).toMatchObject({ admit: false });
    await db.query("DELETE FROM outlast.runs WHERE agent = 'paced-runs'");
  });
});

describe("fairness config", () => {
  it("is validated, with defaults, and absent unless configured", () => {
    expect(resolveConfig({}, "test").fairness).toBeUndefined();
    expect(resolveConfig({ fairness: {} }, "test").fairness).toEqual({
      tenants: {},
      defaultWeight: 1,
    });
    expect(() => resolveConfig({ fairness: { tenants: { acme: 0 } } }, "test")).toThrow(
      /config\.fairness\.tenants\.acme: a weight must be more than 0/,
    );
    expect(() => resolveConfig({ fairness: { weights: {} } }, "test")).toThrow(/config\.fairness/);
  });

  it("weighs unlisted tenants by the default weight", () => {
    const f = new Fairness({ tenants: { acme: 3 }, defaultWeight: 2 });
    expect(f.claimArgs(new Map([["beta", 1]]))).toEqual({
      tenants: ["acme", "beta"],
      weights: [3, 2],
      running: [0, 1],
      defaultWeight: 2,
    });
  });
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
