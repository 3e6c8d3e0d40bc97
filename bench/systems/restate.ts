/**
 * Restate: the server from the `@restatedev/restate-server` npm package (its own log and
 * RocksDB storage in a temporary folder — it does not use PostgreSQL), started once per
 * process at its defaults; the TypeScript SDK serves the handlers over HTTP/2 from this
 * process; clients call through the ingress over HTTP/1.1 keep-alive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The SDK uses Promise.withResolvers (Node 22+); this is the one-line polyfill for Node 20.
(Promise as unknown as { withResolvers: unknown }).withResolvers ??= <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
};

import * as restate from "@restatedev/restate-sdk";
import { postJson } from "../lib/http.js";
import { closedLoop, idle, sleep, until } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const started = new Map<string, number>();

const bench = restate.service({
  name: "bench",
  handlers: {
    steps: async (ctx: restate.Context, n: number): Promise<number> => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await ctx.run(`s${i}`, async () => i);
      return sum;
    },
    probe: async (_ctx: restate.Context, k: string): Promise<void> => {
      started.set(k, performance.now());
    },
  },
});

interface Running {
  child: ChildProcess;
  dir: string;
  ingress: string;
  endpoint: http2.Http2Server;
}

async function startServer(): Promise<Running> {
  const bin = createRequire(import.meta.url).resolve(
    `@restatedev/restate-server-${process.platform}-${process.arch}/bin/restate-server`,
  );
  const dir = mkdtempSync(join(tmpdir(), "restate-bench-"));
  const child = spawn(
    bin,
    ["--base-dir", dir, "--use-random-ports", "true", "--listen-mode", "tcp", "--no-logo"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        RESTATE_BIND_IP: "127.0.0.1",
        RESTATE_LOG_DISABLE_ANSI_CODES: "true",
        RESTATE_DISABLE_TELEMETRY: "true",
      },
    },
  );
  process.once("exit", () => child.kill("SIGKILL"));
  let out = "";
  const onData = (d: Buffer) => {
    out += d.toString();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) =>
      reject(new Error(`restate-server exited (${code}): ${out.slice(-500)}`)),
    ),
  );
  const ports = async () => {
    await until(
      () =>
        /Ingress HTTP listening[\s\S]*?server\.port: \d+/.test(out) &&
        /Admin API starting on: \S+/.test(out),
      60_000,
      "restate-server to listen",
      50,
    );
    const ingressPort = /Ingress HTTP listening[\s\S]*?server\.port: (\d+)/.exec(out)![1];
    const admin = /Admin API starting on: (http:\/\/[^\s/]+)/.exec(out)![1]!;
    return { ingress: `http://127.0.0.1:${ingressPort}`, admin };
  };
  const { ingress, admin } = await Promise.race([ports(), exited]);

  const endpoint = http2.createServer(restate.createEndpointHandler({ services: [bench] }));
  await new Promise<void>((r) => endpoint.listen(0, "127.0.0.1", r));
  const port = (endpoint.address() as { port: number }).port;
  // The admin API may answer before the cluster is provisioned: retry the registration.
  let last: unknown;
  await until(
    async () => {
      const res = await postJson(`${admin}/deployments`, { uri: `http://127.0.0.1:${port}` }).catch(
        (e: Error) => ({ status: 0, body: e.message }),
      );
      last = res.body;
      return res.status === 201 || res.status === 200;
    },
    60_000,
    "deployment registration",
    200,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${JSON.stringify(last)}`);
  });
  await until(
    async () => (await postJson(`${ingress}/bench/steps`, 1)).status === 200,
    30_000,
    "ingress to route to the new deployment",
    100,
  );
  return { child, dir, ingress, endpoint };
}

export const create: AdapterFactory = () => {
  let server: Promise<Running> | undefined;
  const ensure = () => {
    server ??= startServer();
    return server;
  };

  return {
    async steps({ steps, workflows, concurrency }) {
      const { ingress } = await ensure();
      const ms = await closedLoop(workflows, concurrency, async () => {
        const res = await postJson(`${ingress}/bench/steps`, steps);
        if (res.status !== 200)
          throw new Error(`ingress answered ${res.status}: ${JSON.stringify(res.body)}`);
      });
      return {
        msPerWorkflow: (ms * concurrency) / workflows,
        workflowsPerSec: workflows / (ms / 1000),
      };
    },

    async latency({ samples, gapMs }) {
      const { ingress } = await ensure();
      await sleep(200);
      const out: number[] = [];
      for (let i = 0; i < samples; i++) {
        const k = `${i}-${Math.random()}`;
        const t0 = performance.now();
        const res = await postJson(`${ingress}/bench/probe/send`, k);
        if (res.status >= 300) throw new Error(`ingress answered ${res.status}`);
        await until(() => started.has(k), 30_000, "probe invocation to start", 0);
        out.push(started.get(k)! - t0);
        await idle(gapMs);
      }
      return { samplesMs: out };
    },

    async close() {
      if (!server) return;
      const s = await server.catch(() => undefined);
      if (!s) return;
      s.endpoint.close();
      s.child.kill("SIGTERM");
      await Promise.race([new Promise((r) => s.child.once("exit", r)), sleep(5_000)]);
      s.child.kill("SIGKILL");
      rmSync(s.dir, { recursive: true, force: true });
    },
  };
};
