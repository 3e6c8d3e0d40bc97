import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { RequestError } from "../../errors.js";

/**
 * Swagger UI at /docs, served from the swagger-ui-dist package: no CDN, so the page works
 * offline and behind firewalls. Only the files named here are served (no path from the
 * URL ever reaches the file system).
 */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

// A file, not an inline script, so that a strict Content-Security-Policy can be added.
const INIT_JS = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Outlast API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

function swaggerUiDir(): string {
  const require = createRequire(import.meta.url);
  // absolute-path.js is the package's getAbsoluteFSPath() without loading its 1.5 MB bundle.
  const getAbsoluteFSPath = require("swagger-ui-dist/absolute-path.js") as () => string;
  return getAbsoluteFSPath();
}

/**
 * `/openapi.json` (OpenAPI 3.1, generated from the zod schemas of the routes registered on
 * `app`), `/docs` (the page) and `/docs/assets/:file`. None of them is in the document.
 */
export function registerDocsRoutes(app: OpenAPIHono, opts: { version: string }): void {
  let dir: string | undefined;
  const cache = new Map<string, Promise<Buffer>>();
  let doc: unknown;

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "An API key (`olk_…`, made with POST /v1/keys or `outlast keys create`), the bootstrap key (OUTLAST_API_KEY) or a run token (`olr_…`); each route needs a role, listed in docs/security.md.",
  });

  // Generated on first request, once every route is registered; it never changes after.
  app.get("/openapi.json", (c) => {
    doc ??= app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: {
        title: "Outlast API",
        version: opts.version,
        description:
          'Submit, inspect and cancel durable agent runs. Every error is `{"error": {"code", "message", "details"?}}`.',
      },
      security: [{ bearer: [] }],
    });
    return c.json(doc as object);
  });

  app.get("/docs", (c) => c.html(PAGE));

  app.get("/docs/assets/:file", async (c) => {
    const file = c.req.param("file");
    const headers = { "Cache-Control": "public, max-age=3600" };
    if (file === "init.js") {
      return c.body(INIT_JS, 200, { ...headers, "Content-Type": "text/javascript; charset=utf-8" });
    }
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type)
      throw new RequestError(
        "OUTLAST_NOT_FOUND",
        `no docs asset named ${JSON.stringify(file.slice(0, 100))}`,
      );
    dir ??= swaggerUiDir();
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = readFile(join(dir, file));
      bytes.catch(() => cache.delete(file));
      cache.set(file, bytes);
    }
    return c.body(new Uint8Array(await bytes), 200, { ...headers, "Content-Type": type });
  });
}
