import { randomBytes } from "node:crypto";
import type { RunTrace, SpanIds } from "./types.js";

/**
 * W3C Trace Context `traceparent`: `version-traceid-parentid-flags`, lowercase hex. A
 * header that does not parse is ignored, as the spec says (the run starts a trace of its
 * own), never refused.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

export interface ParsedTraceparent extends SpanIds {
  /** The caller's sampling decision (flag 01). */
  sampled: boolean;
}

/** The header's parent, or undefined when it is absent or invalid. */
export function parseTraceparent(header: string | null | undefined): ParsedTraceparent | undefined {
  if (!header) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as string[];
  // Version ff is invalid; version 00 has nothing after the flags (later versions may).
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return {
    traceId: traceId as string,
    spanId: spanId as string,
    sampled: (Number.parseInt(flags as string, 16) & 1) === 1,
  };
}

/** The `traceparent` header naming `ids` as the parent (sampled). */
export function traceparentOf(ids: SpanIds): string {
  return `00-${ids.traceId}-${ids.spanId}-01`;
}

export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

/**
 * The trace a new run gets at submit: a child of the caller's `traceparent` when it sent
 * one, a new trace when this process traces, none otherwise. A caller that said "not
 * sampled" gets none: the run is not traced.
 */
export function runTraceFor(
  traceparent: string | undefined,
  tracing: boolean,
): RunTrace | undefined {
  if (traceparent !== undefined) {
    const parent = parseTraceparent(traceparent);
    if (parent) {
      if (!parent.sampled) return undefined;
      return { traceId: parent.traceId, spanId: newSpanId(), parentSpanId: parent.spanId };
    }
  }
  return tracing ? { traceId: newTraceId(), spanId: newSpanId(), parentSpanId: null } : undefined;
}
