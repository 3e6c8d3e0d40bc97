/**
 * A run's own `webhook` passes the same SSRF check as a subscription, at submit: a URL that
 * could never be delivered to is a 400 and no run, not a 202 and a delivery that fails
 * silently later. The checks of these URLs make no connection (IP literals, and `localhost`
 * resolved on this machine). `outlast dev` allows loopback unless its config says.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { withDevDefaults } from "../../src/cli/load.js";
import { resolveConfig } from "../../src/config/load.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { openTestDb } from "../helpers/db.js";
import { call } from "./http.js";

const agents = [defineAgent({ name: "noop", run: async () => null })];

describe("webhook of POST /v1/runs", () => {
  let service: RunService;
  let close: () => Promise<void>;
  let strict: OpenAPIHono;
  let lenient: OpenAPIHono;
  let loopbackOnly: OpenAPIHono;

  beforeAll(async () => {
    const t = await openTestDb("pglite");
    close = t.close;
    service = new RunService(t.db, agents);
    strict = createApi({ service });
    lenient = createApi({ service, webhooks: { allowPrivateAddresses: true } });
    loopbackOnly = createApi({ service, webhooks: { allowPrivateAddresses: "loopback" } });
  });
  afterAll(() => close());

  const submit = (app: OpenAPIHono, url: string) =>
    call(app, "POST", "/v1/runs", { json: { agent: "noop", webhook: { url } } });

  it.each([
    "http://localhost:8080/hook",
    "http://127.0.0.1:9/hook",
    "http://[::1]/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
  ])("refuses %s with 400 and makes no run", async (url) => {
    const res = await submit(strict, url);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("OUTLAST_WEBHOOK_URL_REFUSED");
    expect(res.body.error.message).toMatch(/^webhook\.url: .*allowPrivateAddresses/);
    expect((await service.list({})).runs).toEqual([]);
  });

  it("refuses a URL that is not http(s) at the schema", async () => {
    const res = await submit(strict, "ftp://example.com/hook");
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "OUTLAST_INVALID_REQUEST" });
    expect(res.body.error.message).toContain("webhook.url");
  });

  it("accepts loopback when webhooks.allowPrivateAddresses is set", async () => {
    const res = await submit(lenient, "http://127.0.0.1:9/hook");
    expect(res.status).toBe(202);
  });

  it.each([
    "http://localhost:8080/hook",
    "http://127.0.0.1:9/hook",
    "http://127.9.9.9:9/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
  ])('accepts loopback %s when webhooks.allowPrivateAddresses is "loopback"', async (url) => {
    const res = await submit(loopbackOnly, url);
    expect(res.status).toBe(202);
  });

  it.each([
    "http://10.0.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[fe80::1]/hook",
  ])('refuses %s when webhooks.allowPrivateAddresses is "loopback"', async (url) => {
    const before = (await service.list({})).runs.length;
    const res = await submit(loopbackOnly, url);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("OUTLAST_WEBHOOK_URL_REFUSED");
    expect((await service.list({})).runs.length).toBe(before);
  });

  it("outlast dev allows loopback only, unless the config says otherwise", () => {
    const open = withDevDefaults(resolveConfig({}, "test"));
    expect(open.webhooks.allowPrivateAddresses).toBe("loopback");
    const closed = withDevDefaults(
      resolveConfig({ webhooks: { allowPrivateAddresses: false } }, "test"),
    );
    expect(closed.webhooks.allowPrivateAddresses).toBe(false);
    // serve and worker take the config as it is: off by default.
    expect(resolveConfig({}, "test").webhooks.allowPrivateAddresses ?? false).toBe(false);
  });
});
