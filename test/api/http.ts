import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "../../src/util/log.js";

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are inspected field by field
  body: any;
}

/** One request through `app.request` (no socket); a JSON body when `json` is given. */
export async function call(
  app: OpenAPIHono,
  method: string,
  path: string,
  opts: { json?: unknown; body?: RequestInit["body"]; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] ??= "application/json";
  }
  const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  if (res.headers.get("content-type")?.includes("json")) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** A logger that keeps what was logged at warn and error, for "nothing went wrong" checks. */
export function recordingLogger(): Logger & { entries: { level: string; msg: string }[] } {
  const entries: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = {
    entries,
    debug() {},
    info() {},
    warn: (msg: string, fields?: Record<string, unknown>) => {
      entries.push({ level: "warn", msg, ...(fields ? { fields } : {}) });
    },
    error: (msg: string, fields?: Record<string, unknown>) => {
      entries.push({ level: "error", msg, ...(fields ? { fields } : {}) });
    },
    child: () => log,
  };
  return log;
}
