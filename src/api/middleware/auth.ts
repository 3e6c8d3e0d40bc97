import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.js";

/** Paths open without a key: probes must work before anyone has configured a client. */
/**
 * Open without a key: health checks (load balancers carry no key) and the API's own
 * documentation (a browser cannot send a bearer header, and the docs hold no data).
 */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  "/healthz",
  "/readyz",
  "/openapi.json",
  "/docs",
]);

function isPublic(path: string): boolean {
  return PUBLIC_PATHS.has(path) || path.startsWith("/docs/assets/");
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/**
 * Requires `Authorization: Bearer <apiKey>` on every path but PUBLIC_PATHS. The key is
 * compared as SHA-256 digests with timingSafeEqual: equal lengths, so the comparison
 * takes the same time whatever the client sent and leaks neither content nor length.
 */
export function bearerAuth(apiKey: string): MiddlewareHandler {
  const expected = digest(apiKey);
  return async (c, next) => {
    if (isPublic(c.req.path)) return next();
    const header = c.req.header("authorization");
    const match = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new ApiError(
        401,
        "OUTLAST_UNAUTHORIZED",
        "send the API key as Authorization: Bearer <key>",
        undefined,
        { "WWW-Authenticate": 'Bearer realm="outlast"' },
      );
    }
    if (!timingSafeEqual(digest(match[1]), expected)) {
      throw new ApiError(401, "OUTLAST_UNAUTHORIZED", "the API key is not valid", undefined, {
        "WWW-Authenticate": 'Bearer realm="outlast", error="invalid_token"',
      });
    }
    return next();
  };
}
