/** What the CLI says about a held run: the reason, and what to do about it. */
import { describe, expect, it } from "vitest";
import { describeEvent, fromNow, holdHint } from "../../src/cli/commands/run-status.js";
import { noWorkerFor, parkedFor, retryFor, throttledFor } from "../../src/engine/waiting-for.js";

const NOW = Date.parse("2026-12-02T12:00:00.000Z");
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe("holdHint", () => {
  it("a signal wait names the command that ends it", () => {
    const w = parkedFor([{ seq: 2, kind: "signal", name: "approval" }], null);
    expect(holdHint("r1", w, NOW)).toBe(
      `waiting for signal "approval" — outlast runs signal r1 approval --payload '{}'`,
    );
  });

  it("a sleep says when it wakes", () => {
    const w = parkedFor([{ seq: 1, kind: "sleep", name: "nap", until: at(12_000) }], at(12_000));
    expect(holdHint("r1", w, NOW)).toBe(`sleeping in "nap" until ${at(12_000)} (wakes in 12 s)`);
  });

  it("a child wait names the command that follows the child", () => {
    const w = parkedFor([{ seq: 1, kind: "child", name: "agent:x", childId: "c1" }], null);
    expect(holdHint("r1", w, NOW)).toMatch(/— outlast runs watch c1$/);
  });

  it("a throttled run says what holds it and when it goes on", () => {
    const w = {
      ...throttledFor("sim/gpt-4o-mini tpm", "no quota"),
      until: at(12_000),
      eta: at(12_000),
    };
    expect(holdHint("r1", w, NOW)).toBe(
      "throttled by the provider limit sim/gpt-4o-mini tpm: no quota — goes on in 12 s",
    );
    const cap = {
      ...throttledFor('tenant "acme" rpm', "over"),
      until: at(180_000),
      eta: at(180_000),
    };
    expect(holdHint("r1", cap, NOW)).toMatch(
      /^throttled by the cap tenant "acme" rpm: over — goes on in 3 min$/,
    );
  });

  it("a retry says when the next attempt starts; no worker says which to start", () => {
    const w = { ...retryFor(1, "boom"), until: at(2_000), eta: at(2_000) };
    expect(holdHint("r1", w, NOW)).toMatch(/^attempt 1 failed \(boom\).* — goes on in 2 s$/);
    expect(holdHint("r1", noWorkerFor("q"), NOW)).toBe(
      'no live worker serves queue "q"; start one: outlast worker --queues q',
    );
  });

  it("fromNow: now for the past, seconds, minutes, then the time", () => {
    expect(fromNow(at(-5_000), NOW)).toBe("now");
    expect(fromNow(at(89_000), NOW)).toBe("in 89 s");
    expect(fromNow(at(3_600_000), NOW)).toBe("in 60 min");
    expect(fromNow(at(7_200_000), NOW)).toBe(`at ${at(7_200_000)}`);
  });
});

describe("describeEvent", () => {
  it("a status event with waiting_for carries the reason and the hint", () => {
    const line = describeEvent({
      run_id: "r1",
      seq: 15,
      type: "run.waiting",
      at: "2026-12-02T12:00:00.123Z",
      data: { waiting_for: parkedFor([{ seq: 2, kind: "signal", name: "approval" }], null) },
    });
    expect(line).toBe(
      `12:00:00.123 #15 waiting — waiting for signal "approval" — outlast runs signal r1 approval --payload '{}'`,
    );
  });
});
