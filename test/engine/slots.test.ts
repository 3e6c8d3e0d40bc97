import { describe, expect, it } from "vitest";
import { Slots } from "../../src/engine/slots.js";
import { Worker } from "../../src/engine/worker.js";
import { advance } from "../../src/engine/worker-mode.js";
import { openTestDb } from "../helpers/db.js";

describe("slots", () => {
  it("reserves what is free and gives it back", () => {
    const slots = new Slots(3);
    expect(slots.reserveFree()).toBe(3);
    expect(slots.reserveFree()).toBe(0);
    slots.release(2);
    expect(slots.busy).toBe(1);
    expect(slots.reserveFree()).toBe(2);
    slots.release(3);
    expect(slots.busy).toBe(0);
  });

  it("refuses to go below zero or above its capacity", () => {
    const slots = new Slots(2);
    expect(() => slots.release()).toThrow("slot accounting broken: 0 taken - 1 leaves -1 of 2");
    slots.reserveFree();
    expect(() => slots.release(3)).toThrow("leaves -1 of 2");
    expect(slots.busy).toBe(2);
  });

  it("wants a whole number of slots", () => {
    expect(() => new Slots(0)).toThrow("concurrency must be a whole number ≥ 1, got 0");
    expect(() => new Slots(1.5)).toThrow(RangeError);
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
    } finally {
      await close();
    }
  });
});
