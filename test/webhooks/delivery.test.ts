import type { ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { attachRunWebhook } from "../../src/webhooks/run-webhooks.js";
import { call } from "../api/http.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { type Proc, spawnDeliverer, startReceiver } from "./helpers.js";

const WEBHOOKS = {
  allowPrivateAddresses: true, // the receiver listens on 127.0.0.1
  initialDelayMs: 100,
  maxDelayMs: 300,
  timeoutMs: 3_000,
  leaseMs: 4_000,
  pollIntervalMs: 200,
};

describe("webhooks on PostgreSQL: failing receiver, deliverer killed mid-delivery", () => {
  let url: string;
  let drop: () => Promise<void>;
  let db: Db;
  let service: RunService;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ url, drop } = await freshDatabaseUrl());
    db = await openStore({ databaseUrl: url });
    service = new RunService(db, [defineAgent({ name: "noop", run: async () => 1 })]);
  });

  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    await db?.close();
    await drop?.();
  });

  it("delivers and gets every event acknowledged, signed per Standard Webhooks", async () => {
    const app = createApi({ service, webhooks: WEBHOOKS });

    // Each message fails its first 3 attempts (500). The first 4th attempt of any message
    // hangs: the test kills the deliverer while that request is in flight.
    const tries = new Map<string, number>();
    const acked = new Map<string, number>();
    const badSignatures: string[] = [];
    /** The secret each receiving path's webhook signs with: its own, and only it. */
    let secretFor: Record<string, string> = {};
    let hung: { id: string; res: ServerResponse } | undefined;
    let onHang: () => void = () => {};
    const hang = new Promise<void>((r) => {
      onHang = r;
    });
    const receiver = await startReceiver((req, res, raw) => {
      const id = req.headers["webhook-id"]!;
      const verifies = (secret: string | undefined) => {
        try {
          new Webhook(secret ?? "").verify(req.body, req.headers);
          return true;
        } catch {
          return false;
        }
      };
      const own = secretFor[raw.url ?? ""];
      const others = Object.values(secretFor).filter((s) => s !== own);
      if (!verifies(own) || others.some(verifies)) badSignatures.push(id);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      if (n <= 3) {
        res.writeHead(500).end("not yet");
      } else if (!hung) {
        hung = { id, res };
        onHang();
      } else {
        acked.set(id, (acked.get(id) ?? 0) + 1);
        res.writeHead(204).end();
      }
    });
    try {
      const created = await call(app, "POST", "/v1/webhooks", {
        json: { url: `${receiver.url}/hooks`, events: ["run.queued", "run.cancelled"] },
      });
      expect(created.status).toBe(201);
      expect(created.body.secret).toMatch(/^whsec_/);
      const defaultSecret = (await call(app, "GET", "/v1/webhooks/secret")).body.secret as string;
      secretFor = { "/hooks": created.body.secret, "/own": defaultSecret };

      // Events: queued, then cancelled, of four runs not yet due. The fourth also has a
      // webhook of its own, attached after its first event, that wants its end only.
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const runs = [];
      for (let i = 0; i < 3; i++)
        runs.push((await service.submit({ agent: "noop", run_at: later })).run);
      for (const r of runs) await service.cancel(r.id);
      const own = (await service.submit({ agent: "noop", run_at: later })).run;
      await attachRunWebhook(db, own, { url: `${receiver.url}/own` });
      await service.cancel(own.id);

      const a = spawnDeliverer(url, { webhooks: WEBHOOKS });
      procs.push(a);
      await a.waitFor(/webhook deliverer started/);
      await hang;
      a.child.kill("SIGKILL");
      await a.exited;
      hung!.res.destroy();

      const b = spawnDeliverer(url, { webhooks: WEBHOOKS });
      procs.push(b);
      await b.waitFor(/webhook deliverer started/);
      await until(
        async () =>
          (
            await db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM outlast.webhook_deliveries WHERE status = 'delivered'",
            )
          )[0]!.n === 9,
        40_000,
        "all nine deliveries",
      );

      const log = await call(app, "GET", "/v1/webhooks/deliveries?limit=200");
      expect(log.status).toBe(200);
      const deliveries = log.body.deliveries as {
        id: string;
        status: string;
        attempts: number;
        event_type: string;
        run_id: string;
        url: string;
      }[];
      // 4 runs × (queued, cancelled) to the subscription, 1 (cancelled) to the run's own.
      expect(deliveries).toHaveLength(9);
      expect(deliveries.every((d) => d.status === "delivered")).toBe(true);
      expect(deliveries.filter((d) => d.url.endsWith("/own")).map((d) => d.event_type)).toEqual([
        "run.cancelled",
      ]);
      // Every delivery acknowledged: each webhook-id got a 2xx, after its three failures.
      expect([...acked.keys()].sort()).toEqual(deliveries.map((d) => d.id).sort());
      expect(deliveries.every((d) => d.attempts >= 4)).toBe(true);
      expect(badSignatures).toEqual([]);

      // The delivery whose attempt was cut off by the kill: attempts 1–3 failed with 500,
      // attempt 4 never finished (no log row), a later one succeeded in the new process.
      const cut = await call(app, "GET", `/v1/webhooks/deliveries/${hung!.id}`);
      const attempts = cut.body.attempt_log as {
        attempt: number;
        status_code: number | null;
        error: string | null;
      }[];
      expect(attempts.slice(0, 3).map((x) => x.status_code)).toEqual([500, 500, 500]);
      expect(
        attempts.slice(0, 3).every((x) => x.error?.startsWith("OUTLAST_WEBHOOK_HTTP_ERROR")),
      ).toBe(true);
      expect(attempts.map((x) => x.attempt)).not.toContain(4);
      expect(attempts.at(-1)).toMatchObject({ status_code: 204, error: null });

      // The body is what Standard Webhooks receivers expect: type, timestamp, data.
      // Signed with its webhook's secret: the subscription's, or — when the delivery that
      // hung was the run's own webhook's (1 in 9) — the default one.
      const sample = receiver.received.find((r) => r.headers["webhook-id"] === hung!.id)!;
      const ownHung = deliveries.find((d) => d.id === hung!.id)?.url.endsWith("/own");
      const secret = ownHung ? defaultSecret : (created.body.secret as string);
      const payload = new Webhook(secret).verify(sample.body, sample.headers) as {
        type: string;
        data: { run_id: string; agent: string; status: string };
      };
      expect(["run.queued", "run.cancelled"]).toContain(payload.type);
      expect(payload.data.agent).toBe("noop");

      // Redelivery: due again at once with the same webhook-id.
      const before = acked.get(hung!.id);
      const again = await call(app, "POST", `/v1/webhooks/deliveries/${hung!.id}/redeliver`);
      expect(again.status).toBe(202);
      await until(() => acked.get(hung!.id) === (before ?? 0) + 1, 20_000, "the redelivery");
    } finally {
      await receiver.close();
    }
  });
});
