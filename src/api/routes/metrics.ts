import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Metrics } from "../../metrics/index.js";

/**
 * `GET /metrics` in Prometheus text format. Behind the API key like every /v1 route; a
 * `read` key is enough (give the scraper one; see docs/security.md).
 */
export function registerMetricsRoute(app: OpenAPIHono, metrics: Metrics): void {
  app.get("/metrics", async (c) => {
    const body = await metrics.render();
    return c.body(body, 200, { "content-type": metrics.contentType });
  });
}
