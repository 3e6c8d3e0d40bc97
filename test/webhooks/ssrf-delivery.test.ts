import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { type Deliverer, startDeliverer } from "../../src/webhooks/deliverer.js";
import { attachRunWebhook } from "../../src/webhooks/run-webhooks.js";
import { WebhookStore } from "../../src/webhooks/store.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { connectionTripwire } from "./tripwire.js";

/** IP literals skip DNS, so the guard in the lookup never sees them: send.ts checks them. */
const TARGETS = [
  {
    url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    host: "169.254.169.254",
  },
  { url: "http://10.0.0.1/hooks", host: "10.0.0.1" },
  { url: "http://[::1]:9/hooks", host: "::1" },
];

// Webhook URLs are anyone's with an API key. Whatever let a private address into the
// store (a check at submit that was off, an older version, a direct write), delivery
// must refuse it before connecting. The tripwire fails any connection to these hosts
// before it starts and records it, so nothing leaves this machine even if the guard breaks.
describe("webhook delivery refuses private IP literals (SSRF) before connecting", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let deliverer: Deliverer | undefined;
  const tripwire = connectionTripwire(TARGETS.map((t) => t.host));

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl();
    drop = fresh.drop;
    db = await openStore({ databaseUrl: fresh.url });
  });

  afterAll(async () => {
    await deliverer?.stop();
    tripwire.remove();
    await db?.close();
    await drop?.();
  });

  it("on per-run webhooks and on subscriptions: refused once, not retried, never sent", async () => {
    const service = new RunService(db, [defineAgent({ name: "noop", run: async () => 1 })]);
    const store = new WebhookStore(db);
    // Written through the store: the checks at subscribe and at submit are not in the way.
    const subscriptions = [];
    for (const t of TARGETS) {
      subscriptions.push(
        await store.createSubscription({ project: "default", url: t.url, events: ["run.queued"] }),
      );
    }
    const { run } = await service.submit({
      agent: "noop",
      run_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    for (const t of TARGETS) {
      await attachRunWebhook(db, run, { url: `${t.url}?own`, events: ["run.queued"] });
    }

    deliverer = await startDeliverer({
      db,
      config: {
        webhooks: {
          allowPrivateAddresses: false,
          initialDelayMs: 50,
          maxDelayMs: 100,
          pollIntervalMs: 100,
          timeoutMs: 2_000,
        },
      },
    });
    const deliveries = async () =>
      db.query<{ url: string; status: string; attempts: number; last_error: string | null }>(
        `SELECT e.url, d.status, d.attempts, d.last_error FROM outlast.webhook_deliveries d
         JOIN outlast.webhook_endpoints e ON e.id = d.endpoint_id WHERE d.run_id = $1 ORDER BY e.url`,
        [run.id],
      );
    await until(
      async () => {
        const ds = await deliveries();
        return ds.length === 6 && ds.every((d) => d.status !== "pending");
      },
      20_000,
      "all six deliveries to be settled",
    );
    const settled = await deliveries();
    for (const t of TARGETS) {
      for (const url of [t.url, `${t.url}?own`]) {
        expect(settled.find((d) => d.url === url)).toEqual({
          url,
          status: "failed",
          attempts: 1,
          last_error: `OUTLAST_WEBHOOK_REFUSED: ${t.host} resolves to ${t.host}, a private, loopback or link-local address; set webhooks.allowPrivateAddresses to deliver there`,
        });
      }
    }
    expect(subscriptions.map((s) => s.url).sort()).toEqual(TARGETS.map((t) => t.url).sort());
    expect(tripwire.attempts).toEqual([]);
  });
});
