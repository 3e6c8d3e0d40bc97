import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { RequestError } from "../../errors.js";
import { errors, HealthSchema, json, ReadySchema } from "../schemas.js";

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["health"],
  summary: "Liveness: 200 while the process lives",
  security: [],
  responses: { 200: json(HealthSchema, "The process is alive.") },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["health"],
  summary: "Readiness: 200 when the database answers",
  security: [],
  responses: {
    200: json(ReadySchema, "Ready to serve."),
    ...errors(503),
  },
});

/** A probe that hangs is as bad as one that fails: the load balancer waits instead of routing away. */
export const READY_TIMEOUT_MS = 2_000;

async function probe(ready: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ready().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` (liveness) and `/readyz` (readiness); both open without an API key. */
export function registerHealthRoutes(app: OpenAPIHono, ready: () => Promise<boolean>): void {
  app.openapi(healthz, (c) => c.json({ status: "ok" as const }, 200));

  app.openapi(readyz, async (c) => {
    if (await probe(ready)) return c.json({ status: "ready" as const }, 200);
    throw new RequestError(
      "OUTLAST_NOT_READY",
      "the server cannot reach its database yet; retry shortly",
      { headers: { "Retry-After": "1" } },
    );
  });
}
