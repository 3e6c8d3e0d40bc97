/**
 * Where and how each wire format is sent: path, authentication and version headers.
 */
import type { Target, WireFormat } from "../config.js";
import { post, type UpstreamReply } from "./transport.js";

/** Sent when the caller did not choose one (`anthropic-version` is required). */
export const ANTHROPIC_VERSION = "2023-06-01";

const PATHS: Record<WireFormat, string> = {
  openai: "/chat/completions",
  anthropic: "/messages",
};

/** Sends `body` (serialised JSON; `stream` says whether it asks for a stream). */
export function sendToTarget(
  target: Target,
  body: string,
  stream: boolean,
  signal: AbortSignal,
  passHeaders: Record<string, string> = {},
): Promise<UpstreamReply> {
  const p = target.provider;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: stream ? "text/event-stream" : "application/json",
  };
  if (p.type === "anthropic") {
    headers["anthropic-version"] = passHeaders["anthropic-version"] ?? ANTHROPIC_VERSION;
    if (passHeaders["anthropic-beta"]) headers["anthropic-beta"] = passHeaders["anthropic-beta"];
    if (p.apiKey) headers["x-api-key"] = p.apiKey;
  } else if (p.apiKey) {
    headers.authorization = `Bearer ${p.apiKey}`;
  }
  Object.assign(headers, p.headers);
  return post(`${p.baseUrl}${PATHS[p.type]}`, headers, body, signal, p.timeoutMs);
}
