import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { webhooksSchema } from "../../src/config/schema.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import { isPrivateAddress } from "../../src/outbound/ssrf.js";
import type { Db } from "../../src/store/db.js";
import { type Deliverer, retryDelayMs, startDeliverer } from "../../src/webhooks/deliverer.js";
import { attachRunWebhook } from "../../src/webhooks/run-webhooks.js";
import { generateSecret, signatureHeaders } from "../../src/webhooks/signature.js";
import { call } from "../api/http.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { until } from "../helpers/processes.js";
import { startReceiver, untilDeliveriesSettled } from "./helpers.js";

describe("webhook signing and the SSRF guard", () => {
  it("signs per Standard Webhooks: the standardwebhooks library verifies it", () => {
    const secret = generateSecret();
    const body = JSON.stringify({ type: "run.succeeded", data: { x: 1 } });
    const headers = signatureHeaders(secret, "msg_1", body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it("refuses loopback, private, link-local and mapped addresses; passes public ones", () => {
    for (const ip of [
      "127.0.0.1",
      "127.1.2.3",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "64:ff9b::a00:1",
    ]) {
      expect([ip, isPrivateAddress(ip)]).toEqual([ip, true]);
    }
    for (const ip of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect([ip, isPrivateAddress(ip)]).toEqual([ip, false]);
    }
  });

  it("retries with exponential backoff for hours", () => {
    const cfg = webhooksSchema.parse({});
    const delays = Array.from({ length: cfg.maxAttempts - 1 }, (_, i) =>
      retryDelayMs(i + 1, cfg.initialDelayMs, cfg.maxDelayMs),
    );
    expect(delays[0]).toBeGreaterThanOrEqual(4_000);
    expect(delays[0]).toBeLessThanOrEqual(6_000);
    for (let i = 1; i < 6; i++) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(cfg.maxDelayMs * 1.2);
    const hours = delays.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(hours).toBeGreaterThan(6);
  });
});

describe.each(BACKENDS)("webhooks on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  const stops: (() => Promise<void>)[] = [];
  const agents = [
    defineAgent({ name: "alpha", run: async (ctx) => ctx.step("one", () => 1) }),
    defineAgent({ name: "beta", run: async () => 2 }),
  ];
  const fast = { initialDelayMs: 50, maxDelayMs: 100, pollIntervalMs: 100, timeoutMs: 2_000 };

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    if (backend === "pglite") {
      await db.exec(
        "TRUNCATE outlast.events, outlast.webhook_endpoints, outlast.webhook_deliveries, outlast.webhook_attempts",
      );
    }
    service = new RunService(db, agents);
    await service.start();
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await service.stop();
    await close();
  });

  async function deliverer(webhooks: Record<string, unknown>): Promise<Deliverer> {
    const d = await startDeliverer({ db, config: { webhooks } });
    stops.push(() => d.stop());
    return d;
  }

  async function worker(): Promise<void> {
    const w = new Worker({ db, agents, pollIntervalMs: 100 });
    await w.start();
    stops.push(() => w.stop(1_000));
  }

  it("refuses a URL that resolves to 127.0.0.1 by default, at subscribe and at delivery", async () => {
    const app = createApi({ service });
    const receiver = await startReceiver((_r, res) => res.writeHead(200).end());
    stops.push(receiver.close);
    for (const url of [receiver.url, receiver.url.replace("127.0.0.1", "localhost")]) {
      const res = await call(app, "POST", "/v1/webhooks", { json: { url, events: ["*"] } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("OUTLAST_WEBHOOK_URL_REFUSED");
      expect(res.body.error.message).toMatch(/127\.0\.0\.1|::1/);
    }
    // A per-run webhook is checked where it counts, at delivery: refused, never sent.
    const { run } = await service.submit({ agent: "beta" });
    await attachRunWebhook(db, run, {
      url: `${receiver.url.replace("127.0.0.1", "localhost")}/x`,
      events: ["run.queued"],
    });
    await deliverer({ ...fast });
    await until(
      async () =>
        (
          await db.query<{ status: string }>(
            "SELECT status FROM outlast.webhook_deliveries WHERE run_id = $1",
            [run.id],
          )
        )[0]?.status === "failed",
      10_000,
      "the refused delivery",
    );
    const log = await call(app, "GET", `/v1/webhooks/deliveries?run_id=${run.id}`);
    expect(log.body.deliveries[0].last_error).toMatch(
      /^OUTLAST_WEBHOOK_REFUSED: localhost resolves to/,
    );
    expect(log.body.deliveries[0].attempts).toBe(1);
    expect(receiver.received).toHaveLength(0);
  });

  it("filters by event type and agent, from the subscription's creation on, until deleted", async () => {
    const app = createApi({ service, webhooks: { allowPrivateAddresses: true } });
    const receiver = await startReceiver((_r, res) => res.writeHead(200).end("ok"));
    stops.push(receiver.close);
    await worker();
    // A run that ended before the subscription existed: none of its events are sent.
    const { run: before } = await service.submit({ agent: "alpha" });
    await service.waitFor(before.id, 10_000);
    const sub = await call(app, "POST", "/v1/webhooks", {
      json: {
        url: receiver.url,
        events: ["step.*", "run.succeeded"],
        agents: ["alpha"],
        description: "ops",
      },
    });
    expect(sub.status).toBe(201);
    expect(sub.headers.get("location")).toBe(`/v1/webhooks/${sub.body.id}`);
    await deliverer({ ...fast, allowPrivateAddresses: true });
    const { run: a } = await service.submit({ agent: "alpha" });
    const { run: b } = await service.submit({ agent: "beta" });
    await service.waitFor(a.id, 10_000);
    await service.waitFor(b.id, 10_000);
    await untilDeliveriesSettled(db);
    const types = receiver.received.map(
      (r) => JSON.parse(r.body) as { type: string; data: { run_id: string } },
    );
    expect(types.map((t) => [t.data.run_id, t.type])).toEqual([
      [a.id, "step.started"],
      [a.id, "step.finished"],
      [a.id, "run.succeeded"],
    ]);
    const list = await call(app, "GET", "/v1/webhooks");
    expect(list.body.webhooks.map((w: { id: string }) => w.id)).toEqual([sub.body.id]);
    expect(list.body.webhooks[0]).not.toHaveProperty("secret");
    const got = await call(app, "GET", `/v1/webhooks/${sub.body.id}`);
    expect(got.body).toMatchObject({
      url: receiver.url,
      events: ["step.*", "run.succeeded"],
      agents: ["alpha"],
    });

    const del = await call(app, "DELETE", `/v1/webhooks/${sub.body.id}`);
    expect(del.status).toBe(200);
    expect((await call(app, "DELETE", `/v1/webhooks/${sub.body.id}`)).body.error.code).toBe(
      "OUTLAST_WEBHOOK_NOT_FOUND",
    );
    const { run: c } = await service.submit({ agent: "alpha" });
    await service.waitFor(c.id, 10_000);
    await untilDeliveriesSettled(db);
    expect(receiver.received).toHaveLength(3);
  });

  it("answers unknown ids, bad ids, bad filters and bad bodies with their codes", async () => {
    const app = createApi({ service });
    const cases: [string, string, unknown, number, string][] = [
      ["GET", `/v1/webhooks/${randomUUID()}`, undefined, 404, "OUTLAST_WEBHOOK_NOT_FOUND"],
      ["GET", "/v1/webhooks/nope", undefined, 400, "OUTLAST_INVALID_ID"],
      [
        "GET",
        `/v1/webhooks/deliveries/${randomUUID()}`,
        undefined,
        404,
        "OUTLAST_DELIVERY_NOT_FOUND",
      ],
      [
        "POST",
        `/v1/webhooks/deliveries/${randomUUID()}/redeliver`,
        undefined,
        404,
        "OUTLAST_DELIVERY_NOT_FOUND",
      ],
      ["GET", "/v1/webhooks/deliveries?cursor=zzz", undefined, 400, "OUTLAST_INVALID_CURSOR"],
      ["GET", "/v1/webhooks/deliveries?status=lost", undefined, 400, "OUTLAST_INVALID_REQUEST"],
      [
        "POST",
        "/v1/webhooks",
        { url: "ftp://example.com", events: ["*"] },
        400,
        "OUTLAST_INVALID_REQUEST",
      ],
      [
        "POST",
        "/v1/webhooks",
        { url: "https://example.com", events: ["run.exploded"] },
        400,
        "OUTLAST_INVALID_REQUEST",
      ],
      [
        "POST",
        "/v1/webhooks",
        { url: "https://example.com", events: [] },
        400,
        "OUTLAST_INVALID_REQUEST",
      ],
      [
        "POST",
        "/v1/webhooks",
        { url: "https://u:p@example.com", events: ["*"] },
        400,
        "OUTLAST_WEBHOOK_URL_REFUSED",
      ],
      [
        "POST",
        "/v1/webhooks",
        { url: "http://169.254.169.254/latest", events: ["*"] },
        400,
        "OUTLAST_WEBHOOK_URL_REFUSED",
      ],
    ];
    for (const [method, path, json, status, code] of cases) {
      const res = await call(app, method, path, json === undefined ? {} : { json });
      expect([method, path, res.status, res.body.error?.code]).toEqual([
        method,
        path,
        status,
        code,
      ]);
    }
  });
});
