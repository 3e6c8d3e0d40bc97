/**
 * Tracing: OpenTelemetry spans run → attempt → step → model call, exported over OTLP/HTTP
 * when an endpoint is configured (docs/tracing.md). Without one, `startTracing` returns
 * undefined and the SDK is never loaded.
 */
import type { Tracing } from "./types.js";

export { parseTraceparent, runTraceFor, traceparentOf } from "./traceparent.js";
export type { RunTrace, Span, SpanAttributes, SpanIds, Tracing } from "./types.js";

type Env = Record<string, string | undefined>;

/**
 * Whether the environment asks for traces: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), unless `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`.
 */
export function tracingWanted(env: Env = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(",").map((s) => s.trim().toLowerCase());
  if (exporters?.includes("none")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/**
 * The process's tracing, or undefined when the environment asks for none. The SDK is
 * imported here, lazily, and only then.
 *
 * @example
 * const tracing = await startTracing();
 * const worker = new Worker({ db, agents, tracing });
 * // on shutdown
 * await tracing?.shutdown();
 */
export async function startTracing(
  opts: { env?: Env; serviceName?: string; serviceVersion?: string } = {},
): Promise<Tracing | undefined> {
  if (!tracingWanted(opts.env ?? process.env)) return undefined;
  const { createOtelTracing } = await import("./otel.js");
  return createOtelTracing({
    ...(opts.serviceName ? { serviceName: opts.serviceName } : {}),
    ...(opts.serviceVersion ? { serviceVersion: opts.serviceVersion } : {}),
  });
}
