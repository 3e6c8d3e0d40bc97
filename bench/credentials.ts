/**
 * What telling a caller's key costs per request (src/auth/credentials.ts), for each kind
 * of credential, against the single `secretKey` comparison the API and the fast path did
 * before keys (src/util/bearer.ts). Prints µs per call; nothing touches a database here
 * (the store is filled as a database read would fill it).
 *
 *   npx tsx bench/credentials.ts [--n 1000000]
 */
import { parseArgs } from "node:util";
import { CredentialStore, type KeyRow } from "../src/auth/credentials.js";
import { newKeyMaterial } from "../src/auth/tokens.js";
import { bearerToken, secretKey } from "../src/util/bearer.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "1000000" } } });
const N = Number(values.n);
const BOOT = "bench-bootstrap-key-0123456789";

function row(id: string, secretHash: string): KeyRow & { db_now: Date } {
  return {
    id,
    project: "default",
    role: "submit",
    name: "bench",
    prefix: `olk_${id}`,
    secret_hash: secretHash,
    feature: null,
    tenant: null,
    agent: null,
    source: "api",
    run_id: null,
    created_by: "bench",
    created_at: new Date(),
    expires_at: null,
    revoked_at: null,
    revision: 1,
    db_now: new Date(),
  };
}

const configKeys = Object.fromEntries(
  Array.from({ length: 5 }, (_, i) => [`gw-config-key-${i}-0123456789`, { project: "default" }]),
);
const store = new CredentialStore({ bootstrap: [BOOT], configKeys });
const keys = Array.from({ length: 10_000 }, () => newKeyMaterial("olk"));
// biome-ignore lint/suspicious/noExplicitAny: filling the cache as a database read would
const apply = (store as any).apply.bind(store) as (r: KeyRow, now: Date) => void;
for (const k of keys) apply(row(k.id, k.secretHash), new Date());
// biome-ignore lint/suspicious/noExplicitAny: auth on, as when rows exist
(store as any).anyStoredKey = true;
const olk = keys[0]!.token;

function time(label: string, fn: () => unknown): void {
  for (let i = 0; i < 50_000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
  process.stdout.write(`${label.padEnd(64)} ${us.toFixed(3)} µs\n`);
}

const before = secretKey(BOOT);
time("before: one secretKey(OUTLAST_API_KEY).matches", () => before.matches(BOOT));
time("bootstrap key (1 bootstrap + 5 config keys compared)", () => store.resolve(BOOT));
time("config key (the 5th)", () => store.resolve("gw-config-key-4-0123456789"));
time("olk_ key, cached secretKey (10,000 keys in the store)", () => store.resolve(olk));
time("olk_ key, wrong secret", () => store.resolve(`${olk.slice(0, -1)}x`));
time("unknown key", () => store.resolve("nope-0123456789-abcdef"));
time("header parse + olk_ key", () => store.resolve(bearerToken(`Bearer ${olk}`) ?? ""));
const fresh = newKeyMaterial("olk");
apply(row(fresh.id, fresh.secretHash), new Date());
const t0 = process.hrtime.bigint();
store.resolve(fresh.token);
process.stdout.write(
  `${"olk_ key, first use (SHA-256 + compare, once per key per process)".padEnd(64)} ${(Number(process.hrtime.bigint() - t0) / 1000).toFixed(1)} µs\n`,
);
