/**
 * The gateway suites' fixtures: the simulated provider in its own process (the only
 * stand-in), and a gateway served over a real socket on a real store.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { startApiServer } from "../../src/api/server.js";
import {
  createGateway,
  GATEWAY_BODY_LIMIT_BYTES,
  type Gateway,
  type GatewayConfigInput,
  GatewayHttp,
  gatewayFastPath,
  mountGateway,
} from "../../src/gateway/index.js";
import type { SimStats } from "../../src/sim/index.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";

const SIM_MAIN = fileURLToPath(new URL("../../src/sim/main.ts", import.meta.url));

export interface SimProcess {
  url: string;
  child: ChildProcess;
  stats(): Promise<SimStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** `npx tsx src/sim/main.ts --port 0 …` in its own process; resolves once it listens. */
export function startSimProcess(args: string[] = []): Promise<SimProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", SIM_MAIN, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (!m) return;
      child.stdout?.off("data", onData);
      const url = m[1] as string;
      resolve({
        url,
        child,
        stats: async () => (await (await fetch(`${url}/stats`)).json()) as SimStats,
        reset: async () => {
          await fetch(`${url}/reset`, { method: "POST" });
        },
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once("exit", () => r());
            child.kill("SIGTERM");
          }),
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.once("exit", (code) =>
      reject(new Error(`sim exited (${code}) before listening:\n${out}`)),
    );
  });
}

export interface GatewayServer {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/**
 * A gateway over `db`, served on a free port as production serves it: the model
 * endpoints on the node:http fast path, everything else by the Hono routes.
 */
export async function serveGateway(db: Db, config: GatewayConfigInput): Promise<GatewayServer> {
  const gateway = createGateway({ db, config, log: silentLogger });
  await gateway.start();
  const http = new GatewayHttp(gateway);
  const app = new Hono();
  mountGateway(app, gateway, http);
  const server = await startApiServer(app, {
    port: 0,
    hostname: "127.0.0.1",
    graceMs: 100,
    fastPath: gatewayFastPath(http, { bodyLimitBytes: GATEWAY_BODY_LIMIT_BYTES }),
  });
  return {
    url: server.url,
    gateway,
    close: async () => {
      await server.close();
      await gateway.close();
    },
  };
}

/** Empties the gateway's tables (the shared PGlite of a test file). */
export async function resetGatewayTables(db: Db): Promise<void> {
  await db.exec(
    "TRUNCATE outlast.gateway_buckets, outlast.gateway_leases, outlast.gateway_waiters, outlast.gateway_cache, outlast.gateway_calls, outlast.usage_rollups, outlast.usage_totals",
  );
}

export function simConfig(
  simUrl: string,
  extra: Partial<GatewayConfigInput> = {},
): GatewayConfigInput {
  return {
    providers: {
      sim: { baseUrl: `${simUrl}/v1`, apiKey: "sim-key", timeoutMs: 5_000 },
      claude: { type: "anthropic", baseUrl: simUrl, apiKey: "sim-key", timeoutMs: 5_000 },
    },
    models: { fast: "sim/gpt-4o-mini" },
    ...extra,
  };
}
