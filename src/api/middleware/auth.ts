import type { MiddlewareHandler } from "hono";
import { RequestError } from "../../errors.js";
import { bearerToken, secretKey } from "../../util/bearer.js";

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

/**
 * Requires `Authorization: Bearer <apiKey>` on every path but PUBLIC_PATHS. The header is
 * parsed and the key compared by src/util/bearer.ts, as the gateway's fast path does: in
 * constant time, leaking neither the key's content nor its length, with no hash per
 * request.
 */
export function bearerAuth(apiKey: string): MiddlewareHandler {
  const expected = secretKey(apiKey);
  return async (c, next) => {
    if (isPublic(c.req.path)) return next();
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) {
      throw new RequestError(
        "OUTLAST_UNAUTHORIZED",
        "send the API key as Authorization: Bearer <key>",
        { headers: { "WWW-Authenticate": 'Bearer realm="outlast"' } },
      );
    }
    if (!expected.matches(token)) {
      throw new RequestError("OUTLAST_UNAUTHORIZED", "the API key is not valid", {
        headers: { "WWW-Authenticate": 'Bearer realm="outlast", error="invalid_token"' },
      });
    }
    return next();
  };
}
