/**
 * What the gateway puts on the wire to a provider (`sendToTarget`: headers as one flat
 * list built per provider), and that a caller who hangs up cancels the provider call on
 * the fast path, whose abort signal is one per connection.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { ProviderEndpoint, Target } from "../../src/gateway/config.js";
import { sendToTarget } from "../../src/gateway/providers/endpoints.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { type GatewayServer, serveGateway } from "./helpers.js";

interface Seen {
  headers: http.IncomingHttpHeaders;
  raw: string[];
  body: string;
  closedEarly: Promise<boolean>;
}

/**
 * A provider stand-in: records each request; answers at once, never when `hang`, or with
 * a 200 whose body breaks off halfway when `cut`.
 */
let upstream: http.Server;
let upstreamUrl: string;
const seen: Seen[] = [];
let hang = false;
let cut = false;

let db: Db;
/** The gateway served as in production: the model endpoints on the fast path. */
let api: GatewayServer;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      body += d;
    });
    const closedEarly = new Promise<boolean>((resolve) => {
      res.once("close", () => resolve(!res.writableFinished));
    });
    req.on("end", () => {
      seen.push({ headers: req.headers, raw: req.rawHeaders, body, closedEarly });
      if (hang) return;
      if (cut) {
        res.writeHead(200, { "content-type": "application/json", "content-length": "400" });
        res.write('{"id":"x","object":"chat.completion","choices":[');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "x",
          object: "chat.completion",
          model: "m",
          choices: [{ index: 0, message: { role: "assistant", content: "ok" } }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  db = await openStore({ dataDir: "memory" });
  api = await serveGateway(db, {
    // One call at a time: a permit that is not given back stalls the next call.
    providers: {
      up: { baseUrl: `${upstreamUrl}/v1`, apiKey: "up-key", limits: { "*": { concurrency: 1 } } },
    },
  });
});

afterAll(async () => {
  await api?.close();
  await db?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

function target(p: Partial<ProviderEndpoint> & Pick<ProviderEndpoint, "type">): Target {
  const provider: ProviderEndpoint = {
    name: "p",
    baseUrl: `${upstreamUrl}/v1`,
    apiKey: "secret",
    headers: {},
    timeoutMs: 5_000,
    ...p,
  };
  return { id: "p/m", provider, model: "m", limitKey: "k", limits: {} } as unknown as Target;
}

async function sent(t: Target, pass: Record<string, string> = {}, stream = false): Promise<Seen> {
  seen.length = 0;
  const reply = await sendToTarget(t, '{"a":"é"}', stream, new AbortController().signal, pass);
  await reply.text();
  return seen[0] as Seen;
}

test("openai targets: bearer key, Host with the port, byte length, configured headers win", async () => {
  const s = await sent(
    target({ type: "openai", headers: { "X-Org": "org-1", Accept: "application/x-custom" } }),
  );
  expect(s.body).toBe('{"a":"é"}');
  expect(s.headers["content-length"]).toBe(String(Buffer.byteLength('{"a":"é"}')));
  expect(s.headers.host).toBe(new URL(upstreamUrl).host);
  expect(s.headers.authorization).toBe("Bearer secret");
  expect(s.headers["content-type"]).toBe("application/json");
  expect(s.headers["x-org"]).toBe("org-1");
  expect(s.headers.accept).toBe("application/x-custom");
  // Each header once: a configured one replaces the default instead of being added to it.
  const names = s.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  expect(new Set(names).size).toBe(names.length);
});

test("anthropic targets: x-api-key, the caller's anthropic-version and beta, else the default", async () => {
  const withCaller = await sent(target({ type: "anthropic" }), {
    "anthropic-version": "2099-01-01",
    "anthropic-beta": "tools-2024",
  });
  expect(withCaller.headers["x-api-key"]).toBe("secret");
  expect(withCaller.headers.authorization).toBeUndefined();
  expect(withCaller.headers["anthropic-version"]).toBe("2099-01-01");
  expect(withCaller.headers["anthropic-beta"]).toBe("tools-2024");

  const plain = await sent(target({ type: "anthropic" }), {}, true);
  expect(plain.headers["anthropic-version"]).toBe("2023-06-01");
  expect(plain.headers["anthropic-beta"]).toBeUndefined();
  expect(plain.headers.accept).toBe("text/event-stream");
});

test("credentials in the base URL become Basic auth when no key is configured", async () => {
  const base = `${upstreamUrl.replace("http://", "http://us%40er:p%3Ass@")}/v1`;
  const s = await sent(target({ type: "openai", apiKey: undefined, baseUrl: base }));
  expect(s.headers.authorization).toBe(`Basic ${Buffer.from("us@er:p:ss").toString("base64")}`);
  expect(s.headers.host).toBe(new URL(upstreamUrl).host);
});

/** A request over its own keep-alive socket, so that socket can be reused or cut. */
function call(agent: http.Agent, onRequest?: (req: http.ClientRequest) => void) {
  const body = JSON.stringify({ model: "up/m", messages: [{ role: "user", content: "hi" }] });
  return new Promise<number>((resolve, reject) => {
    const req = http.request(
      `${api.url}/v1/chat/completions`,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
    onRequest?.(req);
  });
}

test("fast path: answers on one keep-alive connection do not abort the next call on it", async () => {
  hang = false;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    seen.length = 0;
    expect(await call(agent)).toBe(200);
    expect(await call(agent)).toBe(200);
    expect(await call(agent)).toBe(200);
    expect(seen).toHaveLength(3);
    for (const s of seen) expect(await s.closedEarly).toBe(false);
  } finally {
    agent.destroy();
  }
});

test("fast path: a caller hanging up cancels its provider call", async () => {
  hang = true;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    seen.length = 0;
    let cut: http.ClientRequest | undefined;
    const answered = call(agent, (req) => {
      cut = req;
    }).catch(() => "hung up");
    await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(1);
    cut?.destroy();
    expect(await answered).toBe("hung up");
    // The gateway closes its provider request instead of waiting out the provider.
    const closed = await Promise.race([
      (seen[0] as Seen).closedEarly,
      new Promise<string>((r) => setTimeout(() => r("still open after 2 s"), 2_000)),
    ]);
    expect(closed).toBe(true);
  } finally {
    hang = false;
    agent.destroy();
  }
});

test("a 200 whose body breaks off is a failed attempt in the caller's shape, not a 500", async () => {
  cut = true;
  try {
    seen.length = 0;
    const res = await fetch(`${api.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "up/m", messages: [{ role: "user", content: "hi" }] }),
    });
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(res.status).toBe(503);
    expect(body.error.code).toBe("OUTLAST_GATEWAY_UPSTREAM_UNAVAILABLE");
    expect(body.error.message).toContain("up/m: network");
    // Retried like any other network failure, within the gateway's rounds.
    expect(seen.length).toBeGreaterThan(1);
  } finally {
    cut = false;
  }
  // Every attempt gave its concurrency slot back: the next call goes through at once.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const t0 = Date.now();
    expect(await call(agent)).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
  } finally {
    agent.destroy();
  }
});
