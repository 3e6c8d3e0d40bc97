/**
 * What checking a presented API key costs, in µs a call, for the comparison
 * src/util/bearer.ts uses and the ones it replaced or was weighed against: the fast
 * path's old early-return on length, the old middleware's SHA-256 per request, and an
 * HMAC of the presented key with a start-up secret. Each is run on a mix of right keys,
 * wrong keys of the same length and wrong keys of other lengths.
 *
 * Usage: npx tsx bench/bearer.ts [--calls 1000000] [--rounds 5]
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";
import { bearerToken, secretKey } from "../src/util/bearer.js";
import { median } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "5" },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);

const KEY = `sk-outlast-${randomBytes(15).toString("hex")}`; // 41 bytes, like a real key
const PRESENTED = [
  KEY,
  `${KEY.slice(0, -1)}x`,
  `x${KEY.slice(1)}`,
  KEY.slice(0, 20),
  `${KEY}-and-more`,
];

const expected = Buffer.from(KEY, "utf8");
const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
const expectedDigest = digest(KEY);
const hmacSecret = randomBytes(32);
const hmac = (s: string) => createHmac("sha256", hmacSecret).update(s, "utf8").digest();
const expectedHmac = hmac(KEY);
const key = secretKey(KEY);

const CANDIDATES: Record<string, (presented: string) => boolean> = {
  "secretKey (padded, this)": (p) => key.matches(p),
  "length, then timingSafeEqual (old fast path)": (p) => {
    const b = Buffer.from(p, "utf8");
    return b.length === expected.length && timingSafeEqual(b, expected);
  },
  "SHA-256 per call (old middleware)": (p) => timingSafeEqual(digest(p), expectedDigest),
  "HMAC-SHA-256 per call": (p) => timingSafeEqual(hmac(p), expectedHmac),
  "parse + secretKey": (p) => key.matches(bearerToken(`Bearer ${p}`) ?? ""),
};

function run(check: (p: string) => boolean): number {
  let accepted = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) if (check(PRESENTED[i % PRESENTED.length] as string)) accepted++;
  const ns = Number(process.hrtime.bigint() - start);
  if (accepted !== Math.ceil(CALLS / PRESENTED.length)) throw new Error("wrong answers");
  return ns / CALLS / 1000;
}

const figures = new Map<string, number[]>(Object.keys(CANDIDATES).map((n) => [n, []]));
for (const check of Object.values(CANDIDATES)) run(check); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, check] of Object.entries(CANDIDATES)) figures.get(name)?.push(run(check));
}
console.log(`µs a call, median of ${ROUNDS} rounds of ${CALLS} calls (${KEY.length}-byte key)`);
for (const [name, us] of figures) console.log(`${median(us).toFixed(3).padStart(8)}  ${name}`);
