/**
 * The one bearer parser and key comparison (src/util/bearer.ts) the API, the gateway's
 * fast path and its key book share. node:crypto's timingSafeEqual is wrapped (it still
 * runs) to see what the comparison hands it: buffers as long as the configured key, once
 * a call, whatever was presented — no early return that would tell the key's length.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { bearerToken, secretKey } from "../../src/util/bearer.js";

const compared = vi.hoisted(() => [] as [number, number][]);
vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof import("node:crypto")>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return crypto.timingSafeEqual(a, b);
    },
  };
});

afterEach(() => {
  compared.length = 0;
});

const KEY = "sk-outlast-0123456789abcdef";

describe("bearerToken", () => {
  it("takes the token of Bearer in any case, with spaces or tabs around it", () => {
    for (const header of [
      `Bearer ${KEY}`,
      `bearer ${KEY}`,
      `BEARER ${KEY}`,
      `BeArEr ${KEY}`,
      `Bearer   ${KEY}`,
      `Bearer\t${KEY}`,
      `Bearer ${KEY} `,
      `Bearer ${KEY} \t `,
    ]) {
      expect(bearerToken(header), JSON.stringify(header)).toBe(KEY);
    }
  });

  it("gives nothing for a missing header, another scheme, or more than one token", () => {
    for (const header of [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      "Bearer \t",
      KEY,
      `Bearer${KEY}`,
      `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}`,
      `Token ${KEY}`,
      ` Bearer ${KEY}`,
      `Bearer ${KEY} ${KEY}`,
      `Bearer ${KEY} junk`,
      `Bearer ${KEY}\nX: y`,
    ]) {
      expect(bearerToken(header), JSON.stringify(header)).toBeUndefined();
    }
  });
});

describe("secretKey", () => {
  it("accepts the key and only the key", () => {
    const key = secretKey(KEY);
    expect(key.matches(KEY)).toBe(true);
    const wrong = [
      `${KEY.slice(0, -1)}X`, // same length, last byte differs
      `X${KEY.slice(1)}`, // same length, first byte differs
      "x".repeat(KEY.length),
      KEY.slice(0, -1), // a prefix
      `${KEY}X`, // the key and more
      `${KEY}\u0000`,
      KEY.toUpperCase(),
      "",
      "x".repeat(10_000),
    ];
    for (const presented of wrong) expect(key.matches(presented), presented).toBe(false);
  });

  it("compares bytes, not UTF-16 units: non-ASCII keys and padding cannot fake a match", () => {
    const key = secretKey("schlüssel-ключ-🔑-0123");
    expect(key.matches("schlüssel-ключ-🔑-0123")).toBe(true);
    expect(key.matches("schlussel-ключ-🔑-0123")).toBe(false);
    expect(key.matches("schlüssel-ключ-🔑-012")).toBe(false);
    // A key ending in NUL is not matched by the presented key without it, though the
    // scratch buffer pads with zeros.
    const nul = secretKey("abc\u0000");
    expect(nul.matches("abc")).toBe(false);
    expect(nul.matches("abc\u0000")).toBe(true);
  });

  it("compares the key's length of bytes once a call, whatever length was presented", () => {
    const key = secretKey(KEY);
    const presented = [KEY, "", "x", KEY.slice(0, -1), `${KEY}X`, "x".repeat(10_000)];
    for (const p of presented) key.matches(p);
    expect(compared).toEqual(presented.map(() => [KEY.length, KEY.length]));
  });

  it("refuses an empty configured key", () => {
    expect(() => secretKey("")).toThrow(/empty/);
  });
});
