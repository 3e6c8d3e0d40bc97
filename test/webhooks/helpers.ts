import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Db } from "../../src/store/db.js";
import { ROOT, until } from "../helpers/processes.js";

const DELIVERER = fileURLToPath(new URL("./fixtures/deliverer.ts", import.meta.url));

export interface Proc {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a deliverer in its own process. */
export function spawnDeliverer(databaseUrl: string, config: unknown): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", DELIVERER], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      OUTLAST_TEST_WEBHOOK_CONFIG: JSON.stringify(config),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    child,
    exited,
    output: () => out,
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`deliverer never printed ${pattern}; output:\n${out.slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** A local HTTP receiver; `handle` decides each answer. */
export async function startReceiver(
  handle: (req: Received, res: ServerResponse, raw: IncomingMessage) => void,
): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const r: Received = {
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [
            k,
            Array.isArray(v) ? v.join(",") : (v ?? ""),
          ]),
        ),
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      received.push(r);
      handle(r, res, req);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * Waits until the deliverers have fanned out every event written so far and settled every
 * delivery (delivered or given up): after this, nothing more arrives for those events, so
 * a test can check that something was not sent without sleeping for a guessed while.
 */
export async function untilDeliveriesSettled(db: Db, timeoutMs = 10_000): Promise<void> {
  await until(
    async () => {
      const [r] = await db.query<{ behind: number; pending: number }>(
        `SELECT (SELECT count(*)::int FROM outlast.events e, outlast.webhook_cursor c
                 WHERE c.id = 1 AND (e.txid, e.id) > (c.txid, c.event_id)) AS behind,
                (SELECT count(*)::int FROM outlast.webhook_deliveries
                 WHERE status = 'pending') AS pending`,
      );
      return r?.behind === 0 && r.pending === 0;
    },
    timeoutMs,
    "every event to be fanned out and every delivery settled",
  );
}
