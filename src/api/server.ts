import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";

export interface ApiServer {
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops accepting, lets in-flight requests finish for `graceMs`, then drops the rest. */
  close(): Promise<void>;
}

/**
 * Serves an app (from `createApi`) on Node's HTTP server. Port 0 picks a free port; the
 * returned url holds the real one.
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
  opts: { port: number; hostname?: string | undefined; graceMs?: number },
): Promise<ApiServer> {
  const server = createAdaptorServer({
    fetch: (req) => app.fetch(req),
    hostname: opts.hostname,
  }) as Server;
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
