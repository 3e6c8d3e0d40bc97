/**
 * The model endpoints straight on node:http, in front of the Hono app. Behind Hono and
 * @hono/node-server, a call builds a WHATWG Request, a Response, Hono's context and
 * router match, and streams the body through web streams: in bench/gateway.ts a bare
 * node:http proxy added 0.2–0.4 ms at concurrency 1, the same proxy behind Hono 0.5–0.8.
 *
 * The fast path only answers what it would answer exactly as the Hono route does:
 * `POST /v1/chat/completions` and `POST /v1/messages` with a Content-Length within the
 * limit and, when auth is on, a credential of the deployment's CredentialStore whose role
 * may call models and whose role has no API rate limit. Everything else — another method
 * or path, a chunked or oversized body, a missing, wrong or too weak key, a rate-limited
 * role — goes to the Hono listener untouched, so its 401/403/413/404/405/429 answers stay
 * the app's own. The call itself runs
 * through `GatewayHttp`, the same code the Hono route calls.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { CredentialStore } from "../../auth/credentials.js";
import { type Role, roleAllows } from "../../types/principal.js";
import { bearerToken } from "../../util/bearer.js";
import type { WireFormat } from "../config.js";
import type { CallRequest, GatewayHttp, Reply } from "./call.js";
import { type CallerBase, callerOf, nodeHeaderGetter } from "./request.js";

/** Serves the request and returns true, or returns false without touching it. */
export type FastListener = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The largest gateway request body by default (LLM prompts outgrow the API's 1 MiB). */
export const GATEWAY_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

export interface FastPathOptions {
  /**
   * The API's bearer key, when it has one (`createApi`'s `apiKey`) and the GatewayHttp has
   * no CredentialStore; with one, the store's credentials are the ones accepted.
   */
  apiKey?: string | undefined;
  /** Roles with an API rate limit (`api.rateLimits`): their calls go through Hono's limiter. */
  limitedRoles?: ReadonlySet<Role> | undefined;
  /** `createApi`'s `extraBodyLimitBytes`. */
  bodyLimitBytes: number;
}

const FORMATS: ReadonlyMap<string, WireFormat> = new Map([
  ["/v1/chat/completions", "openai"],
  ["/v1/messages", "anthropic"],
]);

/** The paths the fast path answers (POST only); the Hono routes serve them too. */
export const FAST_PATHS: readonly string[] = [...FORMATS.keys()];

/**
 * A node:http request listener for the model endpoints; give it to `startApiServer` as
 * `fastPath` with the `GatewayHttp` the Hono routes were mounted with.
 *
 * @example
 * const http = new GatewayHttp(gateway);
 * const app = createApi({ service, apiKey, extraRoutes: (a) => mountGateway(a, gateway, http) });
 * await startApiServer(app, {
 *   port: 0,
 *   fastPath: gatewayFastPath(http, { apiKey, bodyLimitBytes: GATEWAY_BODY_LIMIT_BYTES }),
 * });
 */
export function gatewayFastPath(http: GatewayHttp, opts: FastPathOptions): FastListener {
  // Checked as the API's middleware checks it (src/auth/credentials.ts): no hash per
  // request — a SHA-256 was ~9 µs a call here, a comparison ~0.25 µs — and neither content
  // nor length leaks.
  const store =
    http.credentials ??
    (opts.apiKey === undefined ? undefined : new CredentialStore({ bootstrap: [opts.apiKey] }));
  const limited = opts.limitedRoles;
  const limit = opts.bodyLimitBytes;
  return (req, res) => {
    if (req.method !== "POST") return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const format = FORMATS.get(path);
    if (format === undefined) return false;
    const h = req.headers;
    // Hono's bodyLimit decides on Content-Length alone when there is one (and no
    // Transfer-Encoding); otherwise it counts the bytes as they come. Only the first is
    // served here.
    const length = h["content-length"];
    if (length === undefined || h["transfer-encoding"] !== undefined) return false;
    if (Number.parseInt(length, 10) > limit) return false;
    // The middleware's check; a refusal is left to it, with its body and WWW-Authenticate.
    let caller: CallerBase | undefined;
    if (store?.enabled) {
      const key = bearerToken(h.authorization);
      const cred = key === undefined ? undefined : store.resolve(key);
      if (cred === undefined) return false;
      const role = cred.principal.role;
      if (!roleAllows(role, "submit") || limited?.has(role)) return false;
      // Without a store of its own, the gateway's key book still has its say (a
      // standalone gateway's config keys); with one, the key just read is the caller.
      if (http.credentials !== undefined) caller = callerOf(cred);
    }
    serve(http, format, path, req, res, caller);
    return true;
  };
}

function serve(
  http: GatewayHttp,
  format: WireFormat,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  caller: CallerBase | undefined,
): void {
  const signal = connectionSignal(req.socket);
  const call: CallRequest = {
    path,
    header: nodeHeaderGetter(req.headers),
    body: () => readBody(req),
    signal: () => signal,
    caller,
  };
  http.model(format, call).then(
    (reply) => write(res, reply),
    (err) => writeError(res, err),
  );
}

const signals = new WeakMap<Socket, AbortSignal>();

/**
 * Aborted when the caller's connection closes. HTTP/1.1 has no other way to give up on a
 * request, so one signal per connection serves every request on it — the same moment
 * @hono/node-server aborts its per-request signal, without an AbortController per
 * request (~7 µs each, measured in bench/gateway.ts's profile). A connection that closes
 * after its last answer aborts a signal nobody listens to any more.
 */
function connectionSignal(socket: Socket): AbortSignal {
  let signal = signals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    signals.set(socket, signal);
    socket.once("close", () => controller.abort("Client connection prematurely closed."));
  }
  return signal;
}

/** The body as UTF-8, a BOM dropped (as Hono's Request.text() decodes it). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => {
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString();
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
    req.once("error", reject);
    req.once("close", () => {
      if (!req.complete) reject(new Error("the connection closed before the body was read"));
    });
  });
}

function write(res: ServerResponse, reply: Reply): void {
  const body = reply.body;
  if (body === null) {
    res.writeHead(reply.status, reply.headers);
    res.end();
  } else if (typeof body === "string") {
    res.writeHead(reply.status, {
      ...reply.headers,
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  } else {
    res.writeHead(reply.status, reply.headers);
    res.flushHeaders();
    pipe(body, res);
  }
}

/** A web stream into the response; the stream is cancelled when the connection goes. */
function pipe(stream: ReadableStream<Uint8Array>, res: ServerResponse): void {
  const reader = stream.getReader();
  const cancel = (error?: unknown) => {
    reader.cancel(error).catch(() => {});
  };
  if (res.destroyed) {
    cancel();
    return;
  }
  res.on("close", cancel);
  res.on("error", cancel);
  const failed = (error: unknown) => {
    if (error) res.destroy(error as Error);
  };
  const next = () => {
    reader.read().then(flow, failed);
  };
  const flow = ({ done, value }: { done: boolean; value?: Uint8Array | undefined }) => {
    try {
      if (done) res.end();
      else if (!res.write(value as Uint8Array)) res.once("drain", next);
      else next();
    } catch (error) {
      failed(error);
    }
  };
  next();
  reader.closed
    .finally(() => {
      res.off("close", cancel);
      res.off("error", cancel);
    })
    .catch((error: unknown) => writeError(res, error));
}

/** What @hono/node-server answers when a handler throws past its own catch. */
function writeError(res: ServerResponse, e: unknown): void {
  const err = e instanceof Error ? e : new Error("unknown error", { cause: e });
  console.error(e);
  if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
  res.end(`Error: ${err.message}`);
  res.destroy(err);
}
