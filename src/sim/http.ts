/**
 * Small node:http helpers. The simulator uses node:http directly, without a framework:
 * the gateway benchmark measures its own overhead against this server, so every
 * microsecond spent here would be charged to the gateway.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export type Headers = Record<string, string>;

/** Requests larger than this are refused (413) rather than buffered. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class BodyTooLargeError extends Error {}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      if (size > MAX_BODY_BYTES) return; // already refused: drain the rest unbuffered
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        reject(new BodyTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () =>
      resolve(
        chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"),
      ),
    );
    req.on("error", reject);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  headers: Headers,
  body: unknown,
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  headers["content-type"] = "application/json";
  headers["content-length"] = String(Buffer.byteLength(payload));
  res.writeHead(status, headers);
  res.end(payload);
}

/** Starts a server-sent-events response. */
export function startSse(res: ServerResponse, headers: Headers): void {
  headers["content-type"] = "text/event-stream; charset=utf-8";
  headers["cache-control"] = "no-cache";
  res.writeHead(200, headers);
}

/**
 * The caller's API key, from `Authorization: Bearer …` (OpenAI) or `x-api-key`
 * (Anthropic). Limits are kept per key; no key is the "anonymous" key.
 */
export function apiKeyOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim() || "anonymous";
  const key = req.headers["x-api-key"];
  if (typeof key === "string" && key) return key;
  return "anonymous";
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function isPositiveInt(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}
