/**
 * The HTTP API. A request passes, in order:
 *
 * 1. auth (when any credential is configured): the key, the matched route's role
 *    (src/api/route-roles.ts), a run token's reach, the key's rate limit; public routes
 *    (health checks, docs) stay open,
 * 2. the body limit (413 before anything is buffered past it),
 * 3. per route: the JSON body reader (415, broken JSON, hostile JSON), then the zod
 *    validators of query, path and body (400 naming the field, via `validationHook`),
 * 4. the handler, which only calls RunService,
 * 5. `errorHandler` for anything thrown on the way, `notFoundHandler` for no route (404/405).
 */
import { readFileSync } from "node:fs";
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { CredentialStore } from "../auth/credentials.js";
import type { webhooksSchema } from "../config/schema.js";
import type { RunService } from "../engine/run-service.js";
import { ThreadService } from "../engine/thread-service.js";
import { RequestError } from "../errors.js";
import type { Metrics } from "../metrics/index.js";
import type { QuotaService } from "../quota/admission.js";
import { createLogger, type Logger } from "../util/log.js";
import { errorHandler, notFoundHandler, validationHook } from "./errors.js";
import { bearerAuth } from "./middleware/auth.js";
import { ApiRateLimiter, type ApiRateLimits } from "./middleware/rate-limit.js";
import { unguardedRoutes } from "./route-roles.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerDocsRoutes } from "./routes/docs.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerKeyRoutes } from "./routes/keys.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import { registerQuotaRoutes } from "./routes/quota.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerThreadRoutes } from "./routes/threads.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";
import { registerWorkerRoutes } from "./routes/workers.js";

export interface ApiOptions {
  service: RunService;
  /**
   * The credentials accepted (bootstrap, config and stored keys, run tokens); the caller
   * starts and closes it. When it has none, every caller is the default project's admin.
   */
  credentials?: CredentialStore | undefined;
  /**
   * Without `credentials`: the one key every non-public route requires, as the default
   * project's admin (`Authorization: Bearer <key>`).
   */
  apiKey?: string | undefined;
  /** Requests a minute per key, by role (`api.rateLimits`); none by default. */
  rateLimits?: ApiRateLimits | undefined;
  /** Readiness probe for /readyz. Default: `SELECT 1` answers. */
  ready?: () => Promise<boolean>;
  /** Largest request body accepted. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Shown in /openapi.json. Default: the package version. */
  version?: string;
  /** Where 5xx errors and database trouble are logged. Default: stderr. */
  log?: Logger;
  /**
   * More routes on the same app and port (the AI gateway's OpenAI- and Anthropic-compatible
   * endpoints). They pass the same auth; their bodies may be as large as
   * `extraBodyLimitBytes` (LLM prompts outgrow the API's 1 MiB).
   */
  extraRoutes?: (app: OpenAPIHono) => void;
  /** Default 32 MiB. */
  extraBodyLimitBytes?: number;
  /** Serves /v1/quota and /v1/quota/check when set. */
  quota?: QuotaService;
  /** The config's `webhooks` section (SSRF policy, default signing secret). */
  webhooks?: z.input<typeof webhooksSchema>;
  /** Aborted on shutdown: ends open event streams so the server closes at once. */
  shutdown?: AbortSignal;
  /** Serves GET /metrics (Prometheus text format) when set, behind the same auth. */
  metrics?: Metrics | undefined;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/**
 * Builds the HTTP API over a RunService. The app is a web-standard fetch handler: serve it
 * with `startApiServer`, or call `app.request()` in tests without a socket. The caller
 * starts and stops the service (`service.start()` lets `?wait=` see runs finish).
 *
 * @example
 * ```ts
 * const service = new RunService(db, [hello]);
 * await service.start();
 * const app = createApi({ service, apiKey: process.env.OUTLAST_API_KEY });
 * const res = await app.request("/v1/runs?wait=10", {
 *   method: "POST",
 *   headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
 *   body: JSON.stringify({ agent: "hello", input: { name: "Ada" } }),
 * });
 * ```
 */
export function createApi(opts: ApiOptions): OpenAPIHono {
  const log = opts.log ?? createLogger({ base: { component: "api" } });
  const limit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new TypeError(`bodyLimitBytes must be a positive integer, got ${limit}`);
  }
  const ready =
    opts.ready ??
    (async () => {
      await opts.service.db.query("SELECT 1");
      return true;
    });

  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.onError(errorHandler(log));
  app.notFound(notFoundHandler(app));

  if (opts.apiKey === "") throw new TypeError("apiKey must not be empty; omit it to disable auth");
  const credentials =
    opts.credentials ??
    (opts.apiKey === undefined ? undefined : new CredentialStore({ bootstrap: [opts.apiKey] }));
  const limiter =
    opts.rateLimits && Object.keys(opts.rateLimits).length > 0
      ? new ApiRateLimiter(opts.service.db, opts.rateLimits, log)
      : undefined;
  if (credentials) app.use("*", bearerAuth(credentials, limiter));
  const limitTo = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new RequestError(
          "OUTLAST_BODY_TOO_LARGE",
          `the request body is over ${maxSize} bytes`,
        );
      },
    });
  app.use("/v1/runs/*", limitTo(limit));
  app.use("/v1/runs", limitTo(limit));

  registerHealthRoutes(app, ready);
  registerRunRoutes(app, opts.service, opts.webhooks);
  app.use("/v1/threads/*", limitTo(limit));
  app.use("/v1/threads", limitTo(limit));
  registerThreadRoutes(app, new ThreadService(opts.service.db));
  registerEventRoutes(app, { service: opts.service, signal: opts.shutdown });
  registerWorkerRoutes(app, opts.service);
  app.use("/v1/webhooks/*", limitTo(limit));
  app.use("/v1/webhooks", limitTo(limit));
  registerWebhookRoutes(app, { db: opts.service.db, config: { webhooks: opts.webhooks } });
  if (opts.quota) {
    app.use("/v1/quota/*", limitTo(limit));
    registerQuotaRoutes(app, opts.service, opts.quota);
  }
  app.use("/v1/keys", limitTo(limit));
  registerKeyRoutes(app, opts.service.db);
  registerAuditRoutes(app, opts.service.db);
  registerDocsRoutes(app, { version: opts.version ?? packageVersion() });
  if (opts.metrics) registerMetricsRoute(app, opts.metrics);
  if (opts.extraRoutes) {
    const extraLimit = limitTo(opts.extraBodyLimitBytes ?? 32 * 1024 * 1024);
    for (const path of [
      "/v1/chat/completions",
      "/v1/messages",
      "/v1/messages/count_tokens",
      "/v1/responses",
      "/v1/embeddings",
    ])
      app.use(path, extraLimit);
    opts.extraRoutes(app);
  }
  // Every route states the role it needs, so that none is added unguarded.
  const unguarded = unguardedRoutes(app.routes);
  if (unguarded.length > 0) {
    throw new TypeError(`routes without a role in src/api/route-roles.ts: ${unguarded.join(", ")}`);
  }
  return app;
}
