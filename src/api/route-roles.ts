/**
 * What each route needs: the least role of the caller's key (`read` < `submit` < `admin`,
 * src/types/principal.ts) or `public` (no key). The auth middleware looks the matched
 * route up here, and `createApi` refuses to start when a registered route has no entry,
 * so a new route cannot slip in unguarded. docs/security.md repeats the table
 * (test/docs/security.test.ts keeps the two in step).
 *
 * Keys are `METHOD path` with Hono's path syntax (`:id`), as `app.routes` lists them.
 */
import type { Role } from "../types/index.js";

export type RouteAccess = Role | "public";

export const ROUTE_ROLES: Readonly<Record<string, RouteAccess>> = {
  // health checks (load balancers carry no key) and the API's own documentation
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /openapi.json": "public",
  "GET /docs": "public",
  "GET /docs/assets/:file": "public",
  "GET /metrics": "read",
  // runs
  "POST /v1/runs": "submit",
  "GET /v1/runs": "read",
  "GET /v1/runs/:id": "read",
  "GET /v1/runs/:id/steps": "read",
  "GET /v1/runs/:id/events": "read",
  "POST /v1/runs/:id/cancel": "submit",
  "POST /v1/runs/:id/signals/:name": "submit",
  "POST /v1/runs/:id/resume": "submit",
  "GET /v1/workers": "read",
  "GET /v1/quota": "read",
  "POST /v1/quota/check": "read",
  // threads: reading is read; making, changing, forking and deleting them is submit
  "POST /v1/threads": "submit",
  "GET /v1/threads": "read",
  "GET /v1/threads/:id": "read",
  "PATCH /v1/threads/:id": "submit",
  "DELETE /v1/threads/:id": "submit",
  "GET /v1/threads/:id/messages": "read",
  "GET /v1/threads/:id/state": "read",
  "GET /v1/threads/:id/history": "read",
  "POST /v1/threads/:id/fork": "submit",
  // webhooks: reading subscriptions and deliveries is read; changing them, admin
  "POST /v1/webhooks": "admin",
  "GET /v1/webhooks": "read",
  "GET /v1/webhooks/secret": "admin",
  "GET /v1/webhooks/deliveries": "read",
  "GET /v1/webhooks/deliveries/:id": "read",
  "POST /v1/webhooks/deliveries/:id/redeliver": "admin",
  "GET /v1/webhooks/:id": "read",
  "DELETE /v1/webhooks/:id": "admin",
  // keys and the audit log
  "POST /v1/keys": "admin",
  "GET /v1/keys": "admin",
  "DELETE /v1/keys/:id": "admin",
  "GET /v1/audit": "admin",
  // the AI gateway
  "POST /v1/chat/completions": "submit",
  "POST /v1/messages": "submit",
  "POST /v1/messages/count_tokens": "submit",
  "POST /v1/responses": "submit",
  "GET /v1/responses/:id": "submit",
  "DELETE /v1/responses/:id": "submit",
  "POST /v1/embeddings": "submit",
  "GET /v1/models": "read",
  "GET /v1/usage": "read",
};

/**
 * What a run-scoped token may reach: its own run (the `:id` must be its run, else 404 as
 * for any run it cannot see) and the model endpoints, its calls attributed to the run.
 */
export const RUN_TOKEN_ROUTES: Readonly<Record<string, "own_run" | "gateway">> = {
  "GET /v1/runs/:id": "own_run",
  "GET /v1/runs/:id/steps": "own_run",
  "GET /v1/runs/:id/events": "own_run",
  "POST /v1/runs/:id/signals/:name": "own_run",
  "POST /v1/chat/completions": "gateway",
  "POST /v1/messages": "gateway",
  "POST /v1/messages/count_tokens": "gateway",
  "POST /v1/responses": "gateway",
  "POST /v1/embeddings": "gateway",
  "GET /v1/models": "gateway",
};

/** The routes of an app that have no entry in ROUTE_ROLES (method `ALL` is middleware). */
export function unguardedRoutes(routes: readonly { method: string; path: string }[]): string[] {
  const missing = new Set<string>();
  for (const r of routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method} ${r.path}`;
    if (!Object.hasOwn(ROUTE_ROLES, key)) missing.add(key);
  }
  return [...missing];
}
