/** The `retention` config: durations as ms or strings, `false` to keep, errors that say where. */
import { expect, test } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import { retentionRules } from "../../src/retention/pruner.js";

test("defaults, strings, ms and false", () => {
  const d = resolveConfig({}, "test", {}).retention;
  expect(d).toEqual({
    runs: 30 * 86_400_000,
    events: 7 * 86_400_000,
    usage: 30 * 86_400_000,
    deliveries: 7 * 86_400_000,
    // Threads are sessions: kept until configured otherwise.
    threads: false,
    intervalMs: 60_000,
  });
  const c = resolveConfig(
    { retention: { runs: "12h", events: false, usage: 90_000 } },
    "test",
    {},
  ).retention;
  expect(c).toMatchObject({ runs: 43_200_000, events: false, usage: 90_000 });
  // `false` leaves that target out of the pass.
  expect(retentionRules(c).map((r) => [r.target.name, r.keepMs])).toEqual([
    ["deliveries", 7 * 86_400_000],
    ["usage", 90_000],
    ["runs", 43_200_000],
  ]);
});

test("a duration it cannot read is named", () => {
  expect(() => resolveConfig({ retention: { runs: "3 weeks" } }, "test", {})).toThrow(
    /config\.retention\.runs: duration "3 weeks" is not understood/,
  );
});
