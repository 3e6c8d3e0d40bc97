import type { MiddlewareHandler } from "hono";
import { RequestError } from "../../errors.js";

/** Deeper bodies are refused: JSON.stringify recurses (a 500k-deep array overflows its stack) and so do Postgres' jsonb functions. */
export const MAX_JSON_DEPTH = 64;

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Reads a JSON body before the schema validators see it, so that every way a body can be
 * wrong gets its own code: an empty body, another media type (415), text that is not JSON,
 * and JSON that parses but must not go further — prototype-pollution keys (refused like
 * Fastify's secure-json-parse does), nesting deeper than MAX_JSON_DEPTH, and strings
 * Postgres cannot store (NUL, unpaired surrogates). The parsed text stays cached on the
 * request, where the zod validator reads it again.
 */
export function jsonBody(): MiddlewareHandler {
  return async (c, next) => {
    const text = await c.req.text();
    if (text.trim() === "") {
      throw new RequestError(
        "OUTLAST_INVALID_REQUEST",
        'the request body is empty; send a JSON object such as {"agent": "hello"}',
      );
    }
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new RequestError(
        "OUTLAST_UNSUPPORTED_MEDIA_TYPE",
        `send the body as JSON with Content-Type: application/json (got ${mediaType ? JSON.stringify(mediaType.slice(0, 100)) : "no Content-Type"})`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RequestError(
        "OUTLAST_INVALID_JSON",
        `the body is not valid JSON: ${(err as Error).message}`,
      );
    }
    checkJson(value, [], 0);
    await next();
  };
}

function where(path: string[]): string {
  if (path.length === 0) return "the body";
  const s = path.join(".");
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

function checkString(s: string, path: string[]): void {
  if (s.includes("\u0000") || LONE_SURROGATE.test(s)) {
    throw new RequestError(
      "OUTLAST_UNSTORABLE_VALUE",
      `${where(path)}: strings must not hold NUL characters or unpaired UTF-16 surrogates`,
    );
  }
}

function checkJson(value: unknown, path: string[], depth: number): void {
  if (typeof value === "string") {
    checkString(value, path);
    return;
  }
  if (value === null || typeof value !== "object") return;
  if (depth >= MAX_JSON_DEPTH) {
    throw new RequestError(
      "OUTLAST_BODY_TOO_DEEP",
      `${where(path)}: objects and arrays nest deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkJson(v, [...path, String(i)], depth + 1);
    });
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = [...path, key];
    checkString(key, at);
    if (
      key === "__proto__" ||
      (key === "constructor" && v !== null && typeof v === "object" && "prototype" in v)
    ) {
      throw new RequestError(
        "OUTLAST_FORBIDDEN_KEY",
        `${where(at)}: the key "${key}" is refused (it could pollute object prototypes)`,
      );
    }
    checkJson(v, at, depth + 1);
  }
}
