/**
 * Turns everything that can go wrong in a request into one response shape:
 * `{"error": {"code": "OUTLAST_...", "message": "what to fix", "details"?: ...}}`.
 *
 * What the client sent is answered with a 4xx; a database that is briefly away with a 503
 * and `Retry-After`; only a bug on our side gives a 500, whose message is generic and
 * holds a reference to the full error in the server log.
 *
 * One renderer: every error answer — a thrown RequestError, Hono's own exceptions, the
 * validators, 404/405, readiness — goes through `errorResponse`, which takes the status
 * from the code's row in API_ERROR_CODES. Nothing here or at a throw site names a status.
 */
import { randomUUID } from "node:crypto";
import type { Context, ErrorHandler, Hono, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { RequestError, type RequestErrorOptions } from "../errors.js";
import { isTransientDbError } from "../store/transient.js";
import type { Logger } from "../util/log.js";
import { API_ERROR_CODES, type ApiErrorCode, statusOf } from "./error-codes.js";

/**
 * The one renderer: `{"error": {"code", "message", "details"?}}` with the status of the
 * code's row in API_ERROR_CODES.
 */
export function errorResponse(
  c: Context,
  code: ApiErrorCode,
  message: string,
  options?: RequestErrorOptions,
): Response {
  const details = options?.details;
  const body = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  const headers = options?.headers === undefined ? undefined : { ...options.headers };
  return c.json(body, statusOf(code), headers);
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
  return errorResponse(c, "OUTLAST_INVALID_REQUEST", message, { details: issues });
}

/** Postgres refused a value the client sent (SQLSTATE class 22, or nesting too deep). */
function isDataError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22[0-9A-Z]{3}|54001)$/.test(code);
}

export function errorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof RequestError && Object.hasOwn(API_ERROR_CODES, err.code)) {
      return errorResponse(c, err.code, err.message, {
        details: err.details,
        headers: err.headers,
      });
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Raised by Hono's own middleware and by zod-openapi's validators.
      if (err.status === 413) {
        return errorResponse(c, "OUTLAST_BODY_TOO_LARGE", "the request body is too large");
      }
      if (err.status === 415) {
        return errorResponse(
          c,
          "OUTLAST_UNSUPPORTED_MEDIA_TYPE",
          "send the body as JSON with Content-Type: application/json",
        );
      }
      if (/json/i.test(err.message)) {
        return errorResponse(c, "OUTLAST_INVALID_JSON", `the body is not valid JSON`);
      }
      return errorResponse(c, "OUTLAST_INVALID_REQUEST", err.message || "the request is invalid");
    }
    if (isTransientDbError(err)) {
      log.warn("database unavailable during request", {
        method: c.req.method,
        path: c.req.path,
        error: err.message,
      });
      return errorResponse(
        c,
        "OUTLAST_UNAVAILABLE",
        "the database is briefly unavailable; retry the request",
        { headers: { "Retry-After": "1" } },
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
        "OUTLAST_UNSTORABLE_VALUE",
        `a value in the request cannot be stored: ${err.message}`,
      );
    }
    // A bug, and so is a RequestError whose code has no row in the table (only a caller
    // that escaped the type checker can throw one).
    const ref = randomUUID();
    log.error("request failed", {
      ref,
      method: c.req.method,
      path: c.req.path,
      error: err.message,
      ...(err instanceof RequestError ? { code: err.code } : {}),
      stack: err.stack,
    });
    return errorResponse(
      c,
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
        "OUTLAST_METHOD_NOT_ALLOWED",
        `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`,
        { headers: { Allow: allow } },
      );
    }
    return errorResponse(
      c,
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
