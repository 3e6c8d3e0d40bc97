import { encode } from "gpt-tokenizer";
import { describe, expect, it } from "vitest";
import { goDuration, rfc3339 } from "../../src/sim/durations.js";
import { simOptionsFromFlags } from "../../src/sim/flags.js";
import { ModelLimiter, TokenBucket } from "../../src/sim/limits.js";
import { defaultReply } from "../../src/sim/reply.js";
import { groupEvents, textPieces } from "../../src/sim/sse.js";
import { countPrompt, countText } from "../../src/sim/tokens.js";

describe("durations", () => {
  it("formats like Go's time.Duration", () => {
    expect(goDuration(0)).toBe("0s");
    expect(goDuration(120)).toBe("120ms");
    expect(goDuration(643.2)).toBe("644ms");
    expect(goDuration(1000)).toBe("1s");
    expect(goDuration(1500)).toBe("1.5s");
    expect(goDuration(90_500)).toBe("1m30.5s");
    expect(goDuration(360_000)).toBe("6m0s");
    expect(goDuration(432_000)).toBe("7m12s");
    expect(goDuration(3_600_000)).toBe("1h0m0s");
    expect(goDuration(12_345)).toBe("12.345s");
  });

  it("formats RFC 3339 at whole seconds, rounded up", () => {
    expect(rfc3339(Date.UTC(2025, 0, 1, 0, 0, 0, 1))).toBe("2025-01-01T00:00:01Z");
    expect(rfc3339(Date.UTC(2025, 0, 1, 0, 0, 0, 0))).toBe("2025-01-01T00:00:00Z");
  });
});

describe("TokenBucket", () => {
  it("starts full, refills continuously, never above capacity", () => {
    const b = new TokenBucket(60, 60_000, 0); // one per second
    expect(b.available(0)).toBe(60);
    b.adjust(-60, 0);
    expect(b.available(500)).toBeCloseTo(0.5);
    expect(b.waitMs(1, 500)).toBeCloseTo(500);
    expect(b.available(1_000_000)).toBe(60);
  });

  it("may go into debt on reconcile and says when it is full again", () => {
    const b = new TokenBucket(100, 60_000, 0);
    b.adjust(-150, 0);
    expect(b.available(0)).toBe(-50);
    expect(b.msUntilFull(0)).toBeCloseTo(90_000);
    expect(b.waitMs(101, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("ModelLimiter", () => {
  it("admits exactly rpm requests in a burst, then gives the exact wait", () => {
    const l = new ModelLimiter({ rpm: 5 }, 0);
    for (let i = 0; i < 5; i++) expect(l.admit(0, 0, 0).ok).toBe(true);
    const sixth = l.admit(0, 0, 0);
    expect(sixth.ok).toBe(false);
    if (sixth.ok) return;
    expect(sixth.rejection).toMatchObject({ dimension: "rpm", limit: 5, used: 5, requested: 1 });
    expect(sixth.rejection.retryAfterMs).toBeCloseTo(12_000);
    expect(l.admit(0, 0, 11_999).ok).toBe(false);
    expect(l.admit(0, 0, 12_000).ok).toBe(true);
  });

  it("charges all buckets or none", () => {
    const l = new ModelLimiter({ rpm: 10, tpm: 100 }, 0);
    expect(l.admit(60, 30, 0).ok).toBe(true);
    expect(l.admit(10, 10, 0).ok).toBe(false); // 10 left < 20
    const [rpm] = l.snapshot(0);
    expect(rpm).toMatchObject({ dimension: "rpm", remaining: 9 });
  });

  it("reconciles the output estimate with the actual output", () => {
    const l = new ModelLimiter({ tpm: 1000, otpm: 500 }, 0);
    const a = l.admit(100, 500, 0);
    if (!a.ok) throw new Error("expected admission");
    expect(l.snapshot(0).map((s) => s.remaining)).toEqual([400, 0]);
    l.settle(a.ticket, 20, 0);
    l.settle(a.ticket, 0, 0); // only the first settle counts
    expect(l.snapshot(0).map((s) => s.remaining)).toEqual([880, 480]);
  });

  it("refuses a request larger than a whole limit as too large", () => {
    const l = new ModelLimiter({ rpm: 1, tpm: 100 }, 0);
    l.admit(0, 0, 0); // rpm exhausted too: too-large still wins
    const r = l.admit(90, 20, 0);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.rejection).toMatchObject({ dimension: "tpm", tooLarge: true, requested: 110 });
  });

  it("waits for the slowest exhausted bucket", () => {
    const l = new ModelLimiter({ rpm: 60, tpm: 600 }, 0);
    expect(l.admit(600, 0, 0).ok).toBe(true);
    for (let i = 0; i < 59; i++) l.admit(0, 0, 0);
    const r = l.admit(300, 0, 0);
    if (r.ok) throw new Error("expected rejection");
    expect(r.rejection.dimension).toBe("rpm"); // first in order
    expect(r.rejection.retryAfterMs).toBeCloseTo(30_000); // tpm needs 300 at 10/s
  });

  it("limits concurrency and hints at the soonest expected finish", () => {
    const l = new ModelLimiter({ concurrency: 1 }, 0);
    const a = l.admit(0, 0, 0);
    if (!a.ok) throw new Error("expected admission");
    a.ticket.expectedEnd = 250;
    const b = l.admit(0, 0, 100);
    if (b.ok) throw new Error("expected rejection");
    expect(b.rejection).toMatchObject({
      dimension: "concurrency",
      limit: 1,
      used: 1,
      retryAfterMs: 150,
    });
    l.release(a.ticket);
    l.release(a.ticket);
    expect(l.inFlightCount).toBe(0);
    expect(l.admit(0, 0, 100).ok).toBe(true);
  });
});

describe("tokens and replies", () => {
  it("counts prompts with a per-message overhead", () => {
    const n = countText("hello world");
    expect(n).toBe(encode("hello world").length);
    expect(countPrompt([{ role: "user", content: "hello world" }])).toBe(n + 3 + 3);
    expect(countPrompt([{ role: "user", content: [{ type: "text", text: "hello world" }] }])).toBe(
      n + 6,
    );
  });

  it("pads or cuts the default reply to exactly the target length", () => {
    for (const target of [1, 5, 32, 300]) {
      const r = defaultReply("What is the capital of France?", target);
      expect(r.tokens).toBe(target);
      expect(r.text.startsWith("Simulated reply to: What".slice(0, r.text.length))).toBe(true);
    }
    // Filler ids repeat exactly like the encoded repeated text, so counts are honest.
    const long = defaultReply("hi", 400);
    expect(encode(long.text).length).toBe(400);
  });

  it("splits text into pieces that join back", () => {
    const text = "Hello,  streaming world! ";
    expect(textPieces(text).join("")).toBe(text);
    expect(textPieces("")).toEqual([]);
  });

  it("groups SSE events around content", () => {
    const e = (data: string, content: boolean) => ({ data, content });
    expect(groupEvents([e("h", false), e("a", true), e("b", true), e("t", false)])).toEqual([
      "ha",
      "bt",
    ]);
    expect(groupEvents([e("h", false), e("t", false)])).toEqual(["ht"]);
  });
});

describe("simOptionsFromFlags", () => {
  it("builds options from strings", () => {
    expect(
      simOptionsFromFlags({ port: "0", rpm: "600", latencyMs: "200-600", errorRate: "0.1" }),
    ).toEqual({ port: 0, defaults: { rpm: 600, latencyMs: [200, 600], errorRate: 0.1 } });
    expect(simOptionsFromFlags({ latencyMs: "50", models: "a, b" })).toEqual({
      defaults: { latencyMs: [50, 50] },
      models: [
        { name: "a", latencyMs: [50, 50] },
        { name: "b", latencyMs: [50, 50] },
      ],
    });
  });

  it("names the bad flag", () => {
    expect(() => simOptionsFromFlags({ rpm: "abc" })).toThrow(/--rpm/);
    expect(() => simOptionsFromFlags({ tpm: "0" })).toThrow(/--tpm/);
    expect(() => simOptionsFromFlags({ concurrency: "1.5" })).toThrow(/--concurrency/);
    expect(() => simOptionsFromFlags({ port: "70000" })).toThrow(/--port/);
    expect(() => simOptionsFromFlags({ latencyMs: "600-200" })).toThrow(/--latency-ms/);
    expect(() => simOptionsFromFlags({ latencyMs: "fast" })).toThrow(/--latency-ms/);
    expect(() => simOptionsFromFlags({ errorRate: "2" })).toThrow(/--error-rate/);
    expect(() => simOptionsFromFlags({ errorRate: "" })).toThrow(/--error-rate/);
  });
});
