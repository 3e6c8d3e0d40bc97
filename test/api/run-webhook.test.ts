import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { type Deliverer, startDeliverer } from "../../src/webhooks/deliverer.js";
import { generateSecret } from "../../src/webhooks/signature.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { startReceiver } from "../webhooks/helpers.js";
import { call } from "./http.js";

// The receiver listens on 127.0.0.1: this deployment allows private addresses.
const WEBHOOKS = {
  allowPrivateAddresses: true,
  initialDelayMs: 50,
  maxDelayMs: 100,
  pollIntervalMs: 100,
  timeoutMs: 2_000,
};

/** True when `secret`, and only it of those given, verifies the delivery. */
function signedWith(
  secret: string,
  others: string[],
  r: { body: string; headers: Record<string, string> },
) {
  const verifies = (s: string) => {
    try {
      new Webhook(s).verify(r.body, r.headers);
      return true;
    } catch {
      return false;
    }
  };
  return verifies(secret) && !others.some(verifies);
}

describe("POST /v1/runs with a `webhook` (PostgreSQL)", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let service: RunService;
  let worker: Worker;
  let deliverer: Deliverer;
  const agents = [
    defineAgent({ name: "echo", run: async (ctx, n: number) => ctx.step("x", () => n) }),
  ];

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl();
    drop = fresh.drop;
    db = await openStore({ databaseUrl: fresh.url });
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, pollIntervalMs: 100 });
    await worker.start();
    deliverer = await startDeliverer({ db, config: { webhooks: WEBHOOKS } });
  });

  afterAll(async () => {
    await deliverer?.stop();
    await worker?.stop(500);
    await service?.stop();
    await db?.close();
    await drop?.();
  });

  it("delivers the run's events to it, each signed with that webhook's own secret", async () => {
    const app = createApi({ service, webhooks: WEBHOOKS });
    const receiver = await startReceiver((_r, res) => res.writeHead(204).end());
    try {
      const own = generateSecret();
      const defaultSecret = (await call(app, "GET", "/v1/webhooks/secret")).body.secret as string;
      const submit = (input: number, webhook: Record<string, unknown>, extra = {}) =>
        call(app, "POST", "/v1/runs", { json: { agent: "echo", input, webhook, ...extra } });
      const a = await submit(1, { url: `${receiver.url}/a`, secret: own });
      const b = await submit(2, { url: `${receiver.url}/b` });
      const c = await submit(3, {
        url: `${receiver.url}/c`,
        events: ["run.queued", "run.succeeded"],
      });
      for (const r of [a, b, c]) expect(r.status).toBe(202);
      await until(() => receiver.received.length >= 4, 20_000, "four deliveries");

      const got = (run: { body: { id: string } }) =>
        receiver.received
          .map((r) => ({ r, payload: JSON.parse(r.body) }))
          .filter((x) => x.payload.data.run_id === run.body.id)
          .map((x) => ({ type: x.payload.type as string, data: x.payload.data, r: x.r }));
      // By default only the end of the run; with `events`, what they name.
      expect(got(a).map((x) => x.type)).toEqual(["run.succeeded"]);
      expect(got(b).map((x) => x.type)).toEqual(["run.succeeded"]);
      expect(
        got(c)
          .map((x) => x.type)
          .sort(),
      ).toEqual(["run.queued", "run.succeeded"]);
      expect(got(a)[0]?.data).toMatchObject({
        run_id: a.body.id,
        agent: "echo",
        status: "succeeded",
      });
      // Its own secret when it brought one, else the deployment's — never the other.
      expect(signedWith(own, [defaultSecret], got(a)[0]!.r)).toBe(true);
      for (const x of [...got(b), ...got(c)]) {
        expect(signedWith(defaultSecret, [own], x.r)).toBe(true);
      }

      // A submit retried with its idempotency key attaches the webhook once.
      const key = { idempotency_key: "retry-me" };
      const first = await submit(4, { url: `${receiver.url}/d` }, key);
      const again = await submit(4, { url: `${receiver.url}/d` }, key);
      expect(again.status).toBe(202);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body.id).toBe(first.body.id);
      const endpoints = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outlast.webhook_endpoints WHERE run_id = $1",
        [first.body.id],
      );
      expect(endpoints[0]?.n).toBe(1);
    } finally {
      await receiver.close();
    }
  });

  it("answers a bad `webhook` with 400 OUTLAST_INVALID_REQUEST naming the field, and creates no run", async () => {
    const app = createApi({ service, webhooks: WEBHOOKS });
    const before = (await service.list({ limit: 100 })).runs.length;
    for (const [webhook, field] of [
      [{ url: "ftp://example.com/hooks" }, "webhook.url"],
      [{ url: "not a url" }, "webhook.url"],
      [{ url: "https://example.com/hooks", events: ["run.exploded"] }, "webhook.events"],
      [{ url: "https://example.com/hooks", events: [] }, "webhook.events"],
      [{ url: "https://example.com/hooks", secret: "hunter2" }, "webhook.secret"],
      [{ url: "https://example.com/hooks", retries: 3 }, "webhook"],
      ["https://example.com/hooks", "webhook"],
    ] as const) {
      const res = await call(app, "POST", "/v1/runs", {
        json: { agent: "echo", input: 1, webhook },
      });
      expect([JSON.stringify(webhook), res.status]).toEqual([JSON.stringify(webhook), 400]);
      expect(res.body.error.code).toBe("OUTLAST_INVALID_REQUEST");
      expect(res.body.error.message).toContain(field);
    }
    expect((await service.list({ limit: 100 })).runs.length).toBe(before);
  });
});
