import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/**
 * The request an async call chain serves. The HTTP server enters it once per request
 * (src/api/server.ts), and every log line written inside — by the API, the gateway, the
 * run service — carries its id (src/util/log.ts reads it in pino's `mixin`), without a
 * logger being handed down through every call.
 */
const storage = new AsyncLocalStorage<{ requestId: string }>();

/** An id a client may choose: short, printable, no spaces (it is echoed in a header). */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is a sane one, else a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return v && CLIENT_ID.test(v) ? v : randomUUID();
}

/** Runs `fn` as part of request `requestId`. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
