/**
 * Per-key API rate limits (`api.rateLimits`): a key over its role's requests a minute gets
 * 429 OUTLAST_RATE_LIMITED with Retry-After; the count is per key, and on PostgreSQL it is
 * shared by every API process (two apps on two connection pools here, one bucket).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { CredentialStore } from "../../src/auth/credentials.js";
import { createKey } from "../../src/auth/keys.js";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { silentLogger } from "../../src/util/log.js";
import { call } from "../api/http.js";
import { openTestDb } from "../helpers/db.js";

const BOOT = "sk-rate-limits-0123456789abcdef";
let db: Db;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const t = await openTestDb("postgres");
  db = t.db;
  url = t.url!;
  close = t.close;
});
afterAll(async () => {
  await close?.();
});

it("refuses a key past its role's rpm with 429 and Retry-After, across processes", async () => {
  const other = await openStore({ databaseUrl: url });
  const stores = [
    new CredentialStore({ db, bootstrap: [BOOT] }),
    new CredentialStore({ db: other, bootstrap: [BOOT] }),
  ];
  await Promise.all(stores.map((s) => s.start()));
  try {
    const [a, b] = stores.map((credentials, i) =>
      createApi({
        service: new RunService(i === 0 ? db : other, []),
        credentials,
        rateLimits: { read: { rpm: 3 } },
        log: silentLogger,
      }),
    ) as [ReturnType<typeof createApi>, ReturnType<typeof createApi>];
    const { token: k1 } = await createKey(db, {
      project: "default",
      role: "read",
      name: "a",
      actor: "cli",
    });
    const { token: k2 } = await createKey(db, {
      project: "default",
      role: "read",
      name: "b",
      actor: "cli",
    });
    await Promise.all(stores.map((s) => s.refresh()));
    const get = (app: typeof a, key: string) =>
      call(app, "GET", "/v1/runs", { headers: { authorization: `Bearer ${key}` } });
    expect((await get(a, k1)).status).toBe(200);
    expect((await get(b, k1)).status).toBe(200);
    expect((await get(a, k1)).status).toBe(200);
    const over = await get(b, k1);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("OUTLAST_RATE_LIMITED");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another key has its own bucket; a role without a limit has none.
    expect((await get(a, k2)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get(a, BOOT)).status).toBe(200);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await other.close();
  }
});
