import type { OpenAPIHono } from "@hono/zod-openapi";
import { RequestError } from "../../errors.js";
import type { Metrics } from "../../metrics/index.js";
import { DEFAULT_PROJECT } from "../../types/index.js";
import { principalOf } from "../principal.js";

/**
 * `GET /metrics` in Prometheus text format. The figures are the deployment's — every
 * project's runs, tenants and costs — so they are the operator's: a `read` key of the
 * default project is enough (give the scraper one; see docs/security.md), a key of any
 * other project is refused.
 */
export function registerMetricsRoute(app: OpenAPIHono, metrics: Metrics): void {
  app.get("/metrics", async (c) => {
    if (principalOf(c).project !== DEFAULT_PROJECT) {
      throw new RequestError(
        "OUTLAST_FORBIDDEN",
        "metrics cover every project; scrape them with a key of the default project",
      );
    }
    const body = await metrics.render();
    return c.body(body, 200, { "content-type": metrics.contentType });
  });
}
