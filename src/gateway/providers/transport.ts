/**
 * HTTP to providers over node:http(s) with keep-alive agents. Not `fetch`: undici's fetch
 * costs a web-streams layer per request, and the gateway's budget is a fraction of a
 * millisecond (see bench/gateway.ts). The timeout covers the wait for the response
 * headers; a stream, once started, runs as long as the caller stays.
 */
import http from "node:http";
import https from "node:https";

const AGENT_OPTS = { keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 };
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

export interface UpstreamReply {
  status: number;
  headers: Headers;
  body: http.IncomingMessage;
  text(): Promise<string>;
}

export function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === "https:" ? https : http;
    const payload = Buffer.from(body);
    const req = mod.request(
      u,
      {
        method: "POST",
        agent: u.protocol === "https:" ? httpsAgent : httpAgent,
        headers: { ...headers, "content-length": String(payload.length) },
      },
      (res) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        // From here the caller owns the response; aborting it closes the socket. The
        // listener goes when the response does: a worker's signal outlives many calls.
        const onLateAbort = () => res.destroy();
        signal.addEventListener("abort", onLateAbort, { once: true });
        res.once("close", () => signal.removeEventListener("abort", onLateAbort));
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (typeof v === "string") h.set(k, v);
          else if (Array.isArray(v)) for (const x of v) h.append(k, x);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: h,
          body: res,
          text: async () => {
            const chunks: Buffer[] = [];
            for await (const c of res) chunks.push(c as Buffer);
            return Buffer.concat(chunks).toString("utf8");
          },
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new UpstreamTimeout(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () =>
      req.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (err) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (err instanceof UpstreamTimeout || signal.aborted)
        reject(signal.aborted ? signal.reason : err);
      else reject(new UpstreamNetworkError(err.message));
    });
    req.end(payload);
  });
}
