import { afterEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { openTestDb } from "../helpers/db.js";

describe("startApiServer", () => {
  let server: ApiServer | undefined;
  let close: (() => Promise<void>) | undefined;

  afterEach(async () => {
    await server?.close();
    await close?.();
  });

  it("listens on a random port and serves the API over a real socket", async () => {
    const store = await openTestDb("pglite");
    close = store.close;
    const service = new RunService(store.db, [defineAgent({ name: "noop", run: async () => 1 })]);
    server = await startApiServer(createApi({ service, apiKey: "k" }), {
      port: 0,
      hostname: "127.0.0.1",
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const submitted = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: JSON.stringify({ agent: "noop" }),
    });
    expect(submitted.status).toBe(202);

    // Over a socket the body limit is decided from Content-Length, before any byte is read.
    const big = await fetch(`${server.url}/v1/runs`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe(
      "OUTLAST_BODY_TOO_LARGE",
    );
  });

  it("rejects when the port is taken", async () => {
    const service = {} as RunService;
    server = await startApiServer(createApi({ service }), { port: 0, hostname: "127.0.0.1" });
    const port = Number(new URL(server.url).port);
    await expect(
      startApiServer(createApi({ service }), { port, hostname: "127.0.0.1" }),
    ).rejects.toMatchObject({ code: "EADDRINUSE" });
  });
});
