import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { type SimProcess, startSimProcess } from "../gateway/helpers.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { type CliProcess, spawnCli, until } from "../helpers/processes.js";

/**
 * No secret in any log line at debug: `outlast serve` and `outlast worker` run a workload
 * that uses every kind of secret — the API key (Authorization and x-api-key headers), a
 * provider key (config), the webhook signing secret (config) and a per-run one, an SMTP
 * password (notifier config, the mail server refuses the connection) — and their whole
 * output is searched for each value.
 */
const SECRETS = {
  apiKey: "outlast-api-key-5f3a9c1e7b2d",
  providerKey: "prov-key-8e1d4c7a2b9f0e63",
  webhookSecret: "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NQ==",
  runWebhookSecret: "whsec_cnVuLXdlYmhvb2stc2VjcmV0LTk4NzY1NA==",
  smtpPass: "smtp-pass-2b7e151628aed2a6",
};
const CONFIG = "test/fixtures/secrets.config.ts";

let sim: SimProcess;
let receiver: Server;
let received = 0;
let db: Db;
let drop: () => Promise<void>;
const procs: CliProcess[] = [];
let api = "";

function listen(server: Server): Promise<number> {
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => r((server.address() as AddressInfo).port)),
  );
}

beforeAll(async () => {
  const fresh = await freshDatabaseUrl();
  drop = fresh.drop;
  sim = await startSimProcess();
  receiver = createServer((req, res) => {
    received++;
    req.resume();
    res.end("ok");
  });
  const hookPort = await listen(receiver);
  // A port nothing listens on: the SMTP notifier's connection is refused.
  const closed = createServer();
  const smtpPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  const env = {
    DATABASE_URL: fresh.url,
    OUTLAST_API_KEY: SECRETS.apiKey,
    OUTLAST_LOG_LEVEL: "debug",
    OUTLAST_TEST_SIM_URL: sim.url,
    OUTLAST_TEST_PROVIDER_KEY: SECRETS.providerKey,
    OUTLAST_TEST_WEBHOOK_SECRET: SECRETS.webhookSecret,
    OUTLAST_TEST_SMTP_PORT: String(smtpPort),
    OUTLAST_TEST_SMTP_PASS: SECRETS.smtpPass,
  };
  const serve = spawnCli(["serve", "-c", CONFIG, "--port", "0", "--host", "127.0.0.1"], env);
  procs.push(serve);
  api = (await serve.waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/, 60_000)).replace(
    "listening at ",
    "",
  );
  procs.push(spawnCli(["worker", "-c", CONFIG], env));
  db = await openStore({ databaseUrl: fresh.url });

  const auth = { authorization: `Bearer ${SECRETS.apiKey}`, "content-type": "application/json" };
  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${api}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const hook = { url: `http://127.0.0.1:${hookPort}/hook`, secret: SECRETS.runWebhookSecret };
  const first = await post("/v1/runs", { agent: "chat", input: {}, webhook: hook });
  expect(first.status, await first.clone().text()).toBe(202);
  expect((await post("/v1/runs", { agent: "boom", input: {} })).status).toBe(202);
  // The gateway's own endpoint, with the Anthropic SDK's x-api-key header too.
  const chat = await post(
    "/v1/messages",
    { model: "fast", messages: [{ role: "user", content: "hi" }], max_tokens: 5 },
    { ...auth, "x-api-key": SECRETS.apiKey },
  );
  expect(chat.status).toBe(200);
  expect(chat.headers.get("x-request-id")).toBeTruthy();
  // A wrong key is refused and logged: its value must not be printed either.
  await post("/v1/runs", { agent: "chat" }, { authorization: `Bearer ${SECRETS.apiKey}x` });

  const count = async (sql: string) => Number((await db.query<{ n: number }>(sql))[0]?.n ?? 0);
  await until(
    async () =>
      received > 0 &&
      (await count(
        "SELECT count(*)::int AS n FROM outlast.runs WHERE status IN ('succeeded', 'failed')",
      )) === 2 &&
      (await count(
        "SELECT count(*)::int AS n FROM outlast.webhook_deliveries d JOIN outlast.webhook_endpoints e ON e.id = d.endpoint_id WHERE e.kind = 'email' AND d.attempts > 0",
      )) > 0,
    90_000,
    "the run, the webhook and the failed email delivery",
  );
  for (const p of procs) p.child.kill("SIGTERM");
  await Promise.all(procs.map((p) => p.exited));
}, 180_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
  await sim?.stop();
  receiver?.close();
  await db?.close();
  await drop?.();
});

describe("logs at debug", () => {
  it("are JSON lines, with the request id on every line of a request", () => {
    const lines = procs.flatMap((p) => p.output().split("\n")).filter((l) => l.startsWith("{"));
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.some((e) => e.level === "debug" && e.msg === "config")).toBe(true);
    const requests = entries.filter((e) => e.msg === "request" || e.msg === "response");
    expect(requests.length).toBeGreaterThanOrEqual(8);
    for (const e of requests) expect(e.requestId, JSON.stringify(e)).toEqual(expect.any(String));
  });

  it.each(Object.entries(SECRETS))("never print the %s", (_, secret) => {
    const output = procs.map((p) => p.output()).join("\n");
    expect(output.length).toBeGreaterThan(1000);
    expect(output).not.toContain(secret);
  });
});
