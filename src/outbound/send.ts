import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import {
  guardedLookup,
  type PrivateAddressPolicy,
  RefusedAddressError,
  refusesAddress,
  urlHost,
} from "./ssrf.js";

export interface SendResult {
  /** The HTTP status, or null when no response came. */
  status: number | null;
  /** At most 1 KiB of the response body, for the delivery log. */
  excerpt: string | null;
  /** Null when the receiver answered 2xx; else an `OUTLAST_WEBHOOK_*` code and message. */
  error: string | null;
  /** The attempt can never succeed (refused address): do not retry. */
  permanent: boolean;
}

export interface SendOptions {
  timeoutMs: number;
  /** Which private addresses may be reached (src/outbound/ssrf.ts). */
  allowPrivateAddresses: PrivateAddressPolicy;
  /** Skip the address check: the URL comes from the operator's config, not from users. */
  trusted?: boolean;
}

const EXCERPT_BYTES = 1024;

/**
 * POSTs a body and reports what came of it; never throws. A 2xx is success; redirects are
 * not followed (a 3xx is a failure), so a receiver cannot bounce the request elsewhere.
 *
 * @example
 * ```ts
 * const res = await postBody(url, JSON.stringify(payload), headers, { timeoutMs: 10_000, allowPrivateAddresses: false });
 * if (res.error) console.warn(res.error);
 * ```
 */
export function postBody(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  opts: SendOptions,
): Promise<SendResult> {
  const fail = (error: string, permanent = false): SendResult => ({
    status: null,
    excerpt: null,
    error,
    permanent,
  });
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return Promise.resolve(fail(`OUTLAST_WEBHOOK_REFUSED: not a URL: ${rawUrl}`, true));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Promise.resolve(fail("OUTLAST_WEBHOOK_REFUSED: only http and https URLs", true));
  }
  const policy = opts.trusted === true ? true : opts.allowPrivateAddresses;
  const host = urlHost(url);
  if (isIP(host) && refusesAddress(host, policy)) {
    return Promise.resolve(
      fail(`OUTLAST_WEBHOOK_REFUSED: ${new RefusedAddressError(host, host).message}`, true),
    );
  }
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: SendResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = lib.request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Outlast-Webhooks/1",
          "content-length": String(Buffer.byteLength(body)),
          ...headers,
        },
        lookup: guardedLookup(policy) as never,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (d: Buffer) => {
          if (size < EXCERPT_BYTES) chunks.push(d);
          size += d.length;
        });
        const finish = (): void => {
          const status = res.statusCode ?? 0;
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8");
          const ok = status >= 200 && status < 300;
          settle({
            status,
            excerpt: excerpt || null,
            error: ok ? null : `OUTLAST_WEBHOOK_HTTP_ERROR: the receiver answered ${status}`,
            permanent: false,
          });
        };
        res.on("end", finish);
        res.on("error", finish);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      settle(fail(`OUTLAST_WEBHOOK_TIMEOUT: no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err instanceof RefusedAddressError || err.code === "OUTLAST_WEBHOOK_REFUSED") {
        settle(fail(`OUTLAST_WEBHOOK_REFUSED: ${err.message}`, true));
      } else {
        settle(fail(`OUTLAST_WEBHOOK_UNREACHABLE: ${err.code ?? ""} ${err.message}`.trim()));
      }
    });
    req.end(body);
  });
}
