import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Credential, CredentialStore } from "../../auth/credentials.js";
import { RequestError } from "../../errors.js";
import { type Principal, roleAllows } from "../../types/index.js";
import { bearerToken } from "../../util/bearer.js";
import { setPrincipal } from "../principal.js";
import { ROUTE_ROLES, type RouteAccess, RUN_TOKEN_ROUTES } from "../route-roles.js";
import type { ApiRateLimiter } from "./rate-limit.js";

/**
 * Open without a key: health checks (load balancers carry no key) and the API's own
 * documentation (a browser cannot send a bearer header, and the docs hold no data).
 * The same routes are `public` in ROUTE_ROLES.
 */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  "/healthz",
  "/readyz",
  "/openapi.json",
  "/docs",
]);

/** The route a request will be answered by, as `METHOD path`; undefined for no route (404). */
function routeKey(c: Context): string | undefined {
  const method = c.req.method === "HEAD" ? "GET" : c.req.method;
  for (const r of matchedRoutes(c)) {
    if (r.method === method) return `${r.method} ${r.path}`;
  }
  return undefined;
}

const unauthorized = (message: string, invalid: boolean) =>
  new RequestError("OUTLAST_UNAUTHORIZED", message, {
    headers: {
      "WWW-Authenticate": invalid
        ? 'Bearer realm="outlast", error="invalid_token"'
        : 'Bearer realm="outlast"',
    },
  });

/** The run id of `/v1/runs/<id>/…`. */
function runIdOfPath(path: string): string | undefined {
  return path.split("/")[3];
}

/**
 * Who the audit log says acted: the key's id, `bootstrap` for OUTLAST_API_KEY, `open` on a
 * deployment without keys.
 */
export function actorOf(c: Context): string {
  const p = c.get("principal" as never) as Principal | undefined;
  if (p === undefined) return "open";
  return p.keyId ?? "bootstrap";
}

/**
 * Authenticates every request but `public` routes against the deployment's credentials
 * (src/auth/credentials.ts: bootstrap, config and stored keys, run tokens), then checks
 * the matched route's role in ROUTE_ROLES (403 below it), a run token's reach (its own
 * run, else 404; other routes 403), and the key's rate limit (429). The caller is set
 * with `setPrincipal` for the routes to read with `principalOf(c)`. Without any
 * credential configured the store is disabled and every caller is the default project's
 * admin, as before keys.
 *
 * The bearer header is parsed by src/util/bearer.ts and the key compared as the gateway's
 * fast path does: in constant time, with no hash per request.
 */
export function bearerAuth(
  store: CredentialStore,
  limiter?: ApiRateLimiter | undefined,
): MiddlewareHandler {
  return async (c, next) => {
    if (!store.enabled) return next();
    const route = routeKey(c);
    const access: RouteAccess | undefined = route === undefined ? undefined : ROUTE_ROLES[route];
    if (access === "public" || (route === undefined && PUBLIC_PATHS.has(c.req.path))) {
      return next();
    }
    const token = bearerToken(c.req.header("authorization"));
    if (token === undefined) {
      throw unauthorized("send the API key as Authorization: Bearer <key>", false);
    }
    const cred: Credential | undefined = store.resolve(token);
    if (cred === undefined) throw unauthorized("the API key is not valid", true);
    const p = cred.principal;
    setPrincipal(c, p);
    // No route: the app's own 404/405, now that the caller is known.
    if (route === undefined || access === undefined) return next();
    if (p.runId !== null) {
      const reach = RUN_TOKEN_ROUTES[route];
      if (reach === undefined) {
        throw new RequestError(
          "OUTLAST_FORBIDDEN",
          "a run token acts on its own run only (get it, its steps and events, signal it) and calls models for it",
        );
      }
      if (reach === "own_run" && runIdOfPath(c.req.path) !== p.runId) {
        throw new RequestError(
          "OUTLAST_RUN_NOT_FOUND",
          `no run with id ${runIdOfPath(c.req.path)}`,
        );
      }
    }
    if (!roleAllows(p.role, access)) {
      throw new RequestError(
        "OUTLAST_FORBIDDEN",
        `${route} needs a key with the ${access} role; this key's role is ${p.role}`,
      );
    }
    if (limiter) {
      const waitMs = await limiter.take(p);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        throw new RequestError(
          "OUTLAST_RATE_LIMITED",
          `this key is over its ${p.role} role's requests a minute (api.rateLimits); retry in ${seconds} s`,
          { headers: { "Retry-After": String(seconds) } },
        );
      }
    }
    return next();
  };
}
