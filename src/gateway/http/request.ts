/**
 * Reading a gateway request: the caller's key and attribution, how long it will wait,
 * cache opt-in, and a body checked just enough to route it (the provider validates the
 * rest and its 400 is passed back in the caller's format).
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { Context } from "hono";
import type { Credential, CredentialStore } from "../../auth/credentials.js";
import { DEFAULT_PROJECT, type Role, roleAllows } from "../../types/principal.js";
import { bearerToken } from "../../util/bearer.js";
import type { Attribution } from "../accounting/recorder.js";
import type { GatewayConfig, WireFormat } from "../config.js";
import { GatewayError } from "../errors.js";

type Obj = Record<string, unknown>;

/** Longest wait a caller may ask for with `x-outlast-wait`, in seconds. */
const MAX_WAIT_SECONDS = 600;

/** A request header by lower-case name; undefined when absent. */
export type HeaderGet = (name: string) => string | undefined;

/**
 * The request's headers. Served by @hono/node-server, they are read where node:http put
 * them: Hono's `c.req.header()` first copies all of them into a WHATWG `Headers` (~10 µs
 * a request here, for the six or so the gateway looks at).
 */
export function headerGetter(c: Context): HeaderGet {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const h = incoming?.headers;
  if (h && typeof h === "object") return nodeHeaderGetter(h);
  return (name) => c.req.header(name);
}

/** Headers as node:http parsed them (lower-case names; repeated ones as arrays). */
export function nodeHeaderGetter(h: IncomingHttpHeaders): HeaderGet {
  return (name) => {
    const v = h[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  };
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** Whom a gateway call is made for, as the caller's key says; headers may add to it. */
export type CallerBase = Omit<Attribution, "step">;

const DEFAULT_CALLER: CallerBase = Object.freeze({ project: DEFAULT_PROJECT });

/** How the gateway's HTTP handlers tell who is calling. */
export interface GatewayKeys {
  /** The caller's attribution; throws a 401 (no or an unknown key) or 403 (`need` not met). */
  authenticate(header: HeaderGet, format: WireFormat, need?: Role): CallerBase;
}

/** The key a request presents: a bearer token, else Anthropic's x-api-key. */
export function presentedKey(header: HeaderGet): string | undefined {
  return bearerToken(header("authorization")) ?? header("x-api-key");
}

function unauthorized(key: string | undefined, format: WireFormat): GatewayError {
  return new GatewayError(
    401,
    "OUTLAST_GATEWAY_UNAUTHORIZED",
    key === undefined
      ? `send a gateway key as ${format === "anthropic" ? "x-api-key or " : ""}Authorization: Bearer <key>`
      : "the gateway key is not valid",
  );
}

/** A credential as the gateway attributes its calls (a run token's run fixed). */
export function callerOf(cred: Credential): CallerBase {
  const p = cred.principal;
  return {
    project: p.project,
    feature: cred.feature,
    tenant: cred.tenant,
    ...(p.runId === null ? {} : { runId: p.runId, agent: cred.agent }),
  };
}

/**
 * The keys of a deployment's CredentialStore (src/auth/credentials.ts): the same ones the
 * API's middleware and the fast path accept, with no hash per request. A key whose role
 * is below `need` (a `read` key asking for a model call) is refused with 403.
 */
export class StoreKeys implements GatewayKeys {
  constructor(readonly store: CredentialStore) {}

  authenticate(header: HeaderGet, format: WireFormat, need: Role = "submit"): CallerBase {
    if (!this.store.enabled) return DEFAULT_CALLER;
    const key = presentedKey(header);
    const cred = key === undefined ? undefined : this.store.resolve(key);
    if (cred === undefined) throw unauthorized(key, format);
    if (!roleAllows(cred.principal.role, need)) {
      throw new GatewayError(
        403,
        "OUTLAST_GATEWAY_FORBIDDEN",
        `this key's role (${cred.principal.role}) cannot do this; it needs ${need}`,
      );
    }
    return callerOf(cred);
  }
}

/**
 * config.gateway.keys alone, for a gateway used without a CredentialStore (a standalone
 * `mountGateway`); `startSystem` uses StoreKeys.
 */
export class KeyBook implements GatewayKeys {
  private readonly byDigest = new Map<string, CallerBase>();

  constructor(keys: GatewayConfig["gateway"]["keys"]) {
    for (const [key, a] of Object.entries(keys)) this.byDigest.set(digest(key), a);
  }

  /**
   * The attribution a key carries. Keys are looked up by SHA-256 digest, so the lookup
   * does not compare secrets byte by byte; a map of digests rather than a constant-time
   * comparison with each key (src/util/bearer.ts, ~0.25 µs each) because one hash of the
   * presented key (~1.5 µs) costs the same whatever the number of keys. Without configured
   * keys, every caller is the `default` project (the API's own bearer auth, when set,
   * still applies) and nothing is hashed.
   */
  authenticate(header: HeaderGet, format: WireFormat): CallerBase {
    if (this.byDigest.size === 0) return DEFAULT_CALLER;
    const key = presentedKey(header);
    const found = key === undefined ? undefined : this.byDigest.get(digest(key));
    if (!found) throw unauthorized(key, format);
    return found;
  }
}

/** An attribution header, at most 200 characters; undefined when absent or empty. */
function attr(header: HeaderGet, name: string): string | undefined {
  const v = header(name);
  return v === undefined || v === "" ? undefined : v.slice(0, 200);
}

/**
 * A call's attribution: the key's, with the attribution headers added. A run token's
 * call is its run's, whatever the headers say.
 */
export function attribution(header: HeaderGet, base: CallerBase): Attribution {
  if (base.runId !== undefined) return { ...base, step: attr(header, "x-outlast-step") };
  return {
    project: base.project,
    feature: attr(header, "x-outlast-feature") ?? base.feature,
    tenant: attr(header, "x-outlast-tenant") ?? base.tenant,
    runId: attr(header, "x-outlast-run-id"),
    agent: attr(header, "x-outlast-agent"),
    step: attr(header, "x-outlast-step"),
  };
}

/** `x-outlast-wait: <seconds>`; 0 answers 429 at once when there is no quota. */
export function waitMs(header: HeaderGet, defaultMs: number): number {
  const v = header("x-outlast-wait");
  if (v === undefined) return defaultMs;
  const s = Number(v);
  if (v.trim() === "" || !Number.isFinite(s) || s < 0) {
    throw new GatewayError(
      400,
      "OUTLAST_GATEWAY_INVALID_REQUEST",
      `x-outlast-wait must be a number of seconds >= 0, got "${v}"`,
    );
  }
  return Math.min(s, MAX_WAIT_SECONDS) * 1000;
}

/** `x-outlast-cache: <ttl seconds>` or `true`; `0`/`false` turns an alias's cache off. */
export function cacheTtl(header: HeaderGet, defaultTtl: number): number | undefined {
  const v = header("x-outlast-cache")?.trim().toLowerCase();
  if (v === undefined || v === "") return undefined;
  if (v === "true") return defaultTtl;
  if (v === "false" || v === "0") return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new GatewayError(
      400,
      "OUTLAST_GATEWAY_INVALID_REQUEST",
      `x-outlast-cache must be true, false or a TTL in seconds, got "${v}"`,
    );
  }
  return n;
}

const invalid = (message: string, param?: string) =>
  new GatewayError(400, "OUTLAST_GATEWAY_INVALID_REQUEST", message, param ? { param } : {});

/** The body's text; a body that cannot be read is answered like one that is not JSON. */
export async function readText(read: () => Promise<string>): Promise<string> {
  try {
    return await read();
  } catch {
    throw invalid("the body is not valid JSON");
  }
}

/** The body as a JSON object. */
export function parseObject(text: string): Obj {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid("the body is not valid JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid("the body must be a JSON object");
  }
  return body as Obj;
}

function checkModel(b: Obj): void {
  if (typeof b.model !== "string" || b.model === "")
    throw invalid("model is required (an alias or provider/model)", "model");
}

/** An embeddings body: a model, and input as a string, strings or token ids, none empty. */
export function checkEmbeddings(b: Obj): void {
  checkModel(b);
  const input = b.input;
  const ok =
    (typeof input === "string" && input !== "") ||
    (Array.isArray(input) &&
      input.length > 0 &&
      input.every(
        (x) =>
          (typeof x === "string" && x !== "") ||
          Number.isInteger(x) ||
          (Array.isArray(x) && x.length > 0 && x.every(Number.isInteger)),
      ));
  if (!ok) {
    throw invalid("input must be a non-empty string, an array of them, or token ids", "input");
  }
  if (b.stream !== undefined) throw invalid("embeddings cannot be streamed", "stream");
}

/** A count_tokens body: a model and messages (max_tokens is not needed to count). */
export function checkCountTokens(b: Obj): void {
  checkModel(b);
  checkMessages(b);
}

function checkMessages(b: Obj): void {
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    throw invalid("messages must be a non-empty array", "messages");
  }
  for (const [i, m] of b.messages.entries()) {
    if (m === null || typeof m !== "object" || typeof (m as Obj).role !== "string") {
      throw invalid(`messages[${i}] must be an object with a role`, `messages[${i}]`);
    }
  }
}

/** Parses and checks the fields routing depends on. */
export function parseBody(text: string, format: WireFormat): Obj {
  const b = parseObject(text);
  checkModel(b);
  checkMessages(b);
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== "boolean") {
    throw invalid("stream must be a boolean", "stream");
  }
  for (const k of ["max_tokens", "max_completion_tokens"]) {
    const v = b[k];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) > 0)) {
      throw invalid(`${k} must be a positive integer`, k);
    }
  }
  if (format === "anthropic" && b.max_tokens === undefined)
    throw invalid("max_tokens: Field required", "max_tokens");
  return b;
}
