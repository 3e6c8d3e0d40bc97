/**
 * HTTP to providers over node:http(s) with keep-alive agents. Not `fetch`: undici's fetch
 * costs a web-streams layer per request, and the gateway's budget is a fraction of a
 * millisecond (see bench/gateway.ts). The timeout covers the wait for the response
 * headers; a stream, once started, runs as long as the caller stays.
 *
 * Per request this does only what it must: the URL is parsed once per endpoint, the
 * response headers are read where node:http put them (not copied into a WHATWG
 * `Headers`: ~12 µs for 15 headers here), and one abort listener covers the request and
 * then the response.
 */
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { urlToHttpOptions } from "node:url";

/**
 * Enough idle sockets kept per upstream for the concurrency a gateway process sees: a
 * socket closed after each burst (node's default keeps 256 but frees idle ones in LIFO
 * order either way) costs a TCP handshake on the next.
 */
const AGENT_OPTS = {
  keepAlive: true,
  maxSockets: 256,
  maxFreeSockets: 256,
  keepAliveMsecs: 10_000,
};
const httpAgent = new http.Agent(AGENT_OPTS);
const httpsAgent = new https.Agent(AGENT_OPTS);

/** No response headers within the provider's timeout. */
export class UpstreamTimeout extends Error {
  override name = "UpstreamTimeout";
}

/** The request never got an answer: refused, reset, DNS. `sent` if the body went out. */
export class UpstreamNetworkError extends Error {
  override name = "UpstreamNetworkError";
}

/** Read access to response headers; a WHATWG `Headers` fits too. */
export interface ReplyHeaders {
  /** The value (repeated headers joined by ", "), or null when absent. Any case. */
  get(name: string): string | null;
}

/** node:http's parsed headers (lower-case keys) behind the `Headers.get` contract. */
class IncomingHeaders implements ReplyHeaders {
  constructor(private readonly h: IncomingHttpHeaders) {}
  get(name: string): string | null {
    const v = this.h[name] ?? this.h[name.toLowerCase()];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : null;
  }
}

export interface UpstreamReply {
  status: number;
  headers: ReplyHeaders;
  body: http.IncomingMessage;
  text(): Promise<string>;
}

interface Endpoint {
  mod: typeof http | typeof https;
  options: http.RequestOptions;
  /** The Host header node:http would add (it adds none to a header list). */
  host: string;
  /** Basic auth from credentials in the URL, which node:http also adds only to objects. */
  basicAuth: string | undefined;
}

/** Parsed once per URL: providers have a handful of endpoints, each hit on every call. */
const endpoints = new Map<string, Endpoint>();

function endpoint(url: string): Endpoint {
  let e = endpoints.get(url);
  if (!e) {
    const u = urlToHttpOptions(new URL(url));
    const secure = u.protocol === "https:";
    // Only what the request needs: the agent copies every option into a dictionary-mode
    // object per request, and urlToHttpOptions' extra fields (href, hash, search…) made
    // that most of the agent's cost.
    const options: http.RequestOptions = {
      protocol: u.protocol,
      hostname: u.hostname,
      path: u.path,
      method: "POST",
      agent: secure ? httpsAgent : httpAgent,
    };
    if (u.port !== undefined && u.port !== "") options.port = u.port;
    // new URL() drops a default port, so u.port is set only when the Host needs it.
    const name = u.hostname ?? "localhost";
    const hostname = name.includes(":") ? `[${name}]` : name;
    const host = options.port === undefined ? hostname : `${hostname}:${options.port}`;
    const basicAuth = u.auth ? `Basic ${Buffer.from(u.auth).toString("base64")}` : undefined;
    e = { mod: secure ? https : http, options, host, basicAuth };
    if (endpoints.size > 1_000) endpoints.clear();
    endpoints.set(url, e);
  }
  return e;
}

/** Reads a whole response body as UTF-8; rejects if it ends early. */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    res.on("data", (c: Buffer) => chunks.push(c));
    res.once("end", () => {
      ended = true;
      resolve(
        chunks.length === 1
          ? (chunks[0] as Buffer).toString("utf8")
          : Buffer.concat(chunks).toString("utf8"),
      );
    });
    res.once("error", reject);
    res.once("close", () => {
      if (!ended) reject(new UpstreamNetworkError("the response ended early"));
    });
  });
}

/**
 * POSTs `body` to `url`. `headers` is a flat name/value list (node:http validates each
 * pair but skips its per-header bookkeeping); Host and Content-Length are added here.
 */
export function post(
  url: string,
  headers: string[],
  body: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const { mod, options, host, basicAuth } = endpoint(url);
    if (!hasHeader(headers, "host")) headers.push("host", host);
    headers.push("content-length", String(Buffer.byteLength(body)));
    if (basicAuth && !hasHeader(headers, "authorization")) headers.push("authorization", basicAuth);
    let res: http.IncomingMessage | undefined;
    // One listener for the request's whole life: before the response it fails the
    // request; afterwards the caller owns the response, and aborting closes its socket.
    // It goes when the response does: a worker's signal outlives many calls.
    const onAbort = () => {
      if (res) res.destroy();
      else req.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    const req = mod.request({ ...options, headers }, (r) => {
      res = r;
      clearTimeout(timer);
      r.once("close", () => signal.removeEventListener("abort", onAbort));
      resolve({
        status: r.statusCode ?? 0,
        headers: new IncomingHeaders(r.headers),
        body: r,
        text: () => readText(r),
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new UpstreamTimeout(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      if (res) return; // the response's own listeners report it
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (err instanceof UpstreamTimeout || signal.aborted)
        reject(signal.aborted ? signal.reason : err);
      else reject(new UpstreamNetworkError(err.message));
    });
    // A string body goes out in one chunk with the head (node:http joins them).
    req.end(body);
  });
}

function hasHeader(list: string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i]?.toLowerCase() === name) return true;
  return false;
}
