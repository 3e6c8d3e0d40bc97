/**
 * Turns everything that can go wrong in a request into one response shape:
 * `{"error": {"code": "OUTLAST_...", "message": "what to fix", "details"?: ...}}`.
 *
 * What the client sent is answered with a 4xx; a database that is briefly away with a 503
 * and `Retry-After`; only a bug on our side gives a 500, whose message is generic and
 * holds a reference to the full error in the server log.
 */
import { randomUUID } from "node:crypto";
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { RequestError } from "../errors.js";
import { isTransientDbError } from "../store/transient.js";
import type { Logger } from "../util/log.js";
import type { ApiErrorCode } from "./error-codes.js";

/** Thrown by the API's own middleware and handlers; rendered by `errorHandler`. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ErrorBody<C extends string = string> {
  error: { code: C; message: string; details?: unknown };
}

export function errorBody<C extends string>(
  code: C,
  message: string,
  details?: unknown,
): ErrorBody<C> {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  details?: unknown,
  headers?: Record<string, string>,
): Response {
  return c.json(errorBody(code, message, details), status, headers);
}

const WHERE = { json: "body", query: "query", param: "path", header: "header", cookie: "cookie" };

/**
 * The zod-openapi `defaultHook`: a failed schema check becomes a 400 whose message names
 * each bad field, e.g. `priority: expected int, received number`.
 */
export function validationHook(
  result: { target: string; success: boolean; error?: ZodError },
  c: Context,
): Response | undefined {
  if (result.success || !result.error) return undefined;
  const where = WHERE[result.target as keyof typeof WHERE] ?? result.target;
  const issues = result.error.issues.map((issue) => {
    const path = issue.path.map(String);
    let message = issue.message.replace(/^Invalid input: /, "");
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(", ");
      const noun = where === "query" ? "query parameter" : "field";
      message = `unknown ${noun}${issue.keys.length > 1 ? "s" : ""} ${keys}`;
    }
    return { in: where, path, message };
  });
  const message = issues
    .map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
  return errorResponse(c, 400, "OUTLAST_INVALID_REQUEST", message, issues);
}

/** Postgres refused a value the client sent (SQLSTATE class 22, or nesting too deep). */
function isDataError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22[0-9A-Z]{3}|54001)$/.test(code);
}

export function errorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof ApiError) {
      return errorResponse(c, err.status, err.code, err.message, err.details, err.headers);
    }
    if (err instanceof RequestError) {
      return errorResponse(c, err.status, err.code, err.message, err.details);
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Raised by Hono's own middleware and by zod-openapi's validators.
      if (err.status === 413) {
        return errorResponse(c, 413, "OUTLAST_BODY_TOO_LARGE", "the request body is too large");
      }
      if (err.status === 415) {
        return errorResponse(
          c,
          415,
          "OUTLAST_UNSUPPORTED_MEDIA_TYPE",
          "send the body as JSON with Content-Type: application/json",
        );
      }
      if (/json/i.test(err.message)) {
        return errorResponse(c, 400, "OUTLAST_INVALID_JSON", `the body is not valid JSON`);
      }
      return errorResponse(
        c,
        err.status as ContentfulStatusCode,
        "OUTLAST_INVALID_REQUEST",
        err.message || "the request is invalid",
      );
    }
    if (isTransientDbError(err)) {
      log.warn("database unavailable during request", {
        method: c.req.method,
        path: c.req.path,
        error: err.message,
      });
      return errorResponse(
        c,
        503,
        "OUTLAST_UNAVAILABLE",
        "the database is briefly unavailable; retry the request",
        undefined,
        { "Retry-After": "1" },
      );
    }
    if (isDataError(err)) {
      log.warn("database refused a value from a request", {
        method: c.req.method,
        path: c.req.path,
        sqlstate: err.code,
        error: err.message,
      });
      return errorResponse(
        c,
        400,
        "OUTLAST_UNSTORABLE_VALUE",
        `a value in the request cannot be stored: ${err.message}`,
      );
    }
    const ref = randomUUID();
    log.error("request failed", {
      ref,
      method: c.req.method,
      path: c.req.path,
      error: err.message,
      stack: err.stack,
    });
    return errorResponse(
      c,
      500,
      "OUTLAST_INTERNAL",
      `internal error; the server log has the details under ref ${ref}`,
    );
  };
}

/**
 * 404 for a path no route has; 405 with `Allow` for a path that exists under another
 * method. Hono itself only knows "no handler", so the routes table is matched here.
 */
export function notFoundHandler(app: Hono): NotFoundHandler {
  let table: { re: RegExp; method: string }[] | undefined;
  return (c) => {
    table ??= app.routes
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ re: pathPattern(r.path), method: r.method.toUpperCase() }));
    const methods = new Set(table.filter((r) => r.re.test(c.req.path)).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    if (methods.size > 0) {
      const allow = [...methods].sort().join(", ");
      return errorResponse(
        c,
        405,
        "OUTLAST_METHOD_NOT_ALLOWED",
        `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`,
        undefined,
        { Allow: allow },
      );
    }
    return errorResponse(
      c,
      404,
      "OUTLAST_NOT_FOUND",
      `no route ${c.req.method} ${c.req.path}; see /openapi.json for the API`,
    );
  };
}

function pathPattern(path: string): RegExp {
  const re = path
    .split("/")
    .map((seg) => {
      if (seg.startsWith(":")) return "[^/]+";
      if (seg === "*") return ".*";
      return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${re}$`);
}
