/**
 * Where and how each wire format is sent: path, authentication and version headers.
 */
import { traceparentOf } from "../../tracing/traceparent.js";
import type { SpanIds } from "../../tracing/types.js";
import type { ProviderEndpoint, Target, WireFormat } from "../config.js";
import { post, type UpstreamReply } from "./transport.js";

/** Sent when the caller did not choose one (`anthropic-version` is required). */
export const ANTHROPIC_VERSION = "2023-06-01";

const PATHS: Record<WireFormat, string> = {
  openai: "/chat/completions",
  anthropic: "/messages",
};

/** What a call asks of its target: a model's answer, or embeddings (OpenAI format only). */
export type Endpoint = "chat" | "embeddings";

/** Sends `body` (serialised JSON; `stream` says whether it asks for a stream). */
export function sendToTarget(
  target: Target,
  body: string,
  stream: boolean,
  signal: AbortSignal,
  passHeaders: Record<string, string> = {},
  endpoint: Endpoint = "chat",
  /** The call's span, when traced: sent as `traceparent`. */
  trace?: SpanIds,
): Promise<UpstreamReply> {
  const p = target.provider;
  const { list, configured } = fixedHeaders(p);
  const headers = [...list];
  const accept = configured.accept ?? (stream ? "text/event-stream" : "application/json");
  headers.push("accept", accept);
  if (p.type === "anthropic") {
    const version =
      configured["anthropic-version"] ?? passHeaders["anthropic-version"] ?? ANTHROPIC_VERSION;
    headers.push("anthropic-version", version);
    const beta = configured["anthropic-beta"] ?? passHeaders["anthropic-beta"];
    if (beta) headers.push("anthropic-beta", beta);
  }
  if (trace) headers.push("traceparent", traceparentOf(trace));
  const path = endpoint === "embeddings" ? "/embeddings" : PATHS[p.type];
  return post(`${p.baseUrl}${path}`, headers, body, signal, p.timeoutMs);
}

/** Headers set per call; a provider's configured value for one of them still wins. */
const PER_CALL = new Set(["accept", "anthropic-version", "anthropic-beta"]);

interface FixedHeaders {
  /** Name/value pairs, flat, as node:http takes them. */
  list: string[];
  /** The provider's configured headers, names lower-cased. */
  configured: Record<string, string>;
}

/**
 * A provider's headers that are the same on every call, as node:http's flat name/value
 * list: built once per provider instead of an object per call that node:http then copies
 * header by header (`setHeader`), ~10 µs a request here. Configured headers override the
 * defaults, as before (names compared case-insensitively, like node:http's).
 */
const fixed = new WeakMap<ProviderEndpoint, FixedHeaders>();

function fixedHeaders(p: ProviderEndpoint): FixedHeaders {
  let f = fixed.get(p);
  if (f === undefined) {
    const configured: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.headers)) configured[k.toLowerCase()] = v;
    const all: Record<string, string> = { "content-type": "application/json" };
    if (p.type === "anthropic") {
      if (p.apiKey) all["x-api-key"] = p.apiKey;
    } else if (p.apiKey) {
      all.authorization = `Bearer ${p.apiKey}`;
    }
    for (const [k, v] of Object.entries(configured)) if (!PER_CALL.has(k)) all[k] = v;
    f = { list: Object.entries(all).flat(), configured };
    fixed.set(p, f);
  }
  return f;
}
