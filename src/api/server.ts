import type { Server } from "node:http";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Logger } from "../util/log.js";
import { requestIdFrom, withRequestId } from "../util/request-context.js";

export interface ApiServer {
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops accepting, lets in-flight requests finish for `graceMs`, then drops the rest. */
  close(): Promise<void>;
}

/**
 * Serves an app (from `createApi`) on Node's HTTP server. Port 0 picks a free port; the
 * returned url holds the real one. `fastPath`, when given, sees every request first and
 * answers the ones it returns true for straight on node:http (the gateway's model
 * endpoints, `gatewayFastPath`); everything else reaches the app unchanged.
 *
 * @example
 * ```ts
 * const server = await startApiServer(createApi({ service }), { port: 0, hostname: "127.0.0.1" });
 * console.log(`listening on ${server.url}`);
 * await server.close();
 * ```
 */
export function startApiServer(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  opts: {
    port: number;
    hostname?: string | undefined;
    graceMs?: number;
    fastPath?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
    /** Where each request is logged, at `debug` (method, path, headers scrubbed, status). */
    log?: Logger | undefined;
  },
): Promise<ApiServer> {
  // What @hono/node-server's createAdaptorServer builds, with the fast path in front.
  const listener = getRequestListener((req) => app.fetch(req), { hostname: opts.hostname });
  const fast = opts.fastPath;
  const serve = fast
    ? (req: IncomingMessage, res: ServerResponse) => {
        if (!fast(req, res)) void listener(req, res);
      }
    : listener;
  const log = opts.log?.isLevelEnabled?.("debug") ? opts.log : undefined;
  // Every request gets an id (the client's x-request-id when sane, else a UUID), echoed in
  // the response and carried by every log line written while it is served, fast path too.
  const server = createServer((req, res) => {
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    withRequestId(requestId, () => {
      if (log) logRequest(log, req, res);
      serve(req, res);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      resolve({
        url: `http://${urlHost(addr)}:${addr.port}`,
        close: () => close(server, opts.graceMs ?? 5_000),
      });
    });
  });
}

/** Two debug lines per request (only attached when debug is on: no cost otherwise). */
function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  log.debug("request", { method: req.method, url: req.url, headers: req.headers });
  res.once("finish", () =>
    log.debug("response", {
      method: req.method,
      url: req.url,
      status: res.statusCode,
      ms: Math.round(performance.now() - started),
    }),
  );
}

function urlHost(addr: AddressInfo): string {
  if (addr.address === "0.0.0.0") return "127.0.0.1";
  if (addr.address === "::") return "[::1]";
  return addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
}

function close(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    force.unref();
    server.close((err) => {
      clearTimeout(force);
      if (err) reject(err);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
