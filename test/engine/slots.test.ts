import { describe, expect, it } from "vitest";
import { Slots } from "../../src/engine/slots.js";
import { Worker } from "../../src/engine/worker.js";
import { advance } from "../../src/engine/worker-mode.js";
import { openTestDb } from "../helpers/db.js";

const never = (err: Error) => {
  throw err;
};

describe("slots", () => {
  it("reserves what is free and gives it back", () => {
    const slots = new Slots(3, never);
    expect(slots.reserveFree()).toBe(3);
    expect(slots.reserveFree()).toBe(0);
    slots.release(2);
    expect(slots.busy).toBe(1);
    expect(slots.reserveFree()).toBe(2);
    slots.release(3);
    expect(slots.busy).toBe(0);
  });

  it("reports a count that would leave its bounds, and keeps it inside them", () => {
    const broken: string[] = [];
    const slots = new Slots(2, (err) => broken.push(err.message));
    slots.release();
    expect(broken).toEqual(["slot accounting broken: 0 taken - 1 leaves -1 of 2"]);
    expect(slots.busy).toBe(0);
    slots.reserveFree();
    slots.release(3);
    expect(broken[1]).toBe("slot accounting broken: 2 taken - 3 leaves -1 of 2");
    expect(slots.busy).toBe(0);
    expect(slots.reserveFree()).toBe(2);
    expect(broken).toHaveLength(2);
  });

  it("wants a whole number of slots", () => {
    expect(() => new Slots(0, never)).toThrow("concurrency must be a whole number ≥ 1, got 0");
    expect(() => new Slots(1.5, never)).toThrow(RangeError);
  });
});

describe("worker mode", () => {
  it("goes created → running → draining → stopped, and nowhere else", () => {
    expect(advance("created", "running")).toBe("running");
    expect(advance("running", "draining")).toBe("draining");
    expect(advance("draining", "stopped")).toBe("stopped");
    expect(() => advance("created", "draining")).toThrow(
      "worker cannot go from created to draining",
    );
    expect(() => advance("stopped", "running")).toThrow("worker cannot go from stopped to running");
  });

  it("a worker starts once; stop before start or twice does nothing", async () => {
    const { db, close } = await openTestDb("postgres");
    try {
      const worker = new Worker({ db, agents: [], queues: ["q"], pollIntervalMs: 50 });
      await worker.stop(0);
      await worker.start();
      await expect(worker.start()).rejects.toThrow("worker cannot go from running to running");
      await worker.stop(0);
      await worker.stop(0);
      await expect(worker.start()).rejects.toThrow("worker cannot go from stopped to running");
      // A stop while start is still setting up waits for it, then takes it all down.
      const early = new Worker({ db, agents: [], queues: ["q"], pollIntervalMs: 50 });
      const starting = early.start();
      const stopped = early.stop(0);
      expect(early.stop(0)).toBe(stopped);
      await Promise.all([starting, stopped]);
      const live = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outlast.workers WHERE id = $1",
        [early.id],
      );
      expect(live[0]?.n).toBe(0);
    } finally {
      await close();
    }
  });
});
