/**
 * The OpenTelemetry implementation of `Tracing`: the official SDK's tracer provider, a
 * batch span processor and the OTLP/HTTP exporter (JSON). Only `index.ts` loads this
 * module, with a dynamic import, when an endpoint is configured: a process without one
 * never loads the SDK (test/tracing/lazy.test.ts checks the imports).
 *
 * The exporter reads the standard variables itself: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`), `…_HEADERS`,
 * `…_TIMEOUT`; the provider reads `OTEL_TRACES_SAMPLER`, the batch processor `OTEL_BSP_*`.
 */
import {
  type Attributes,
  type Context,
  type Span as OtelSpan,
  SpanKind as OtelSpanKind,
  ROOT_CONTEXT,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  RandomIdGenerator,
} from "@opentelemetry/sdk-trace-base";
import type {
  RunTrace,
  Span,
  SpanAttributes,
  SpanIds,
  SpanKind,
  SpanOptions,
  Tracing,
} from "./types.js";

const KINDS: Record<SpanKind, OtelSpanKind> = {
  internal: OtelSpanKind.INTERNAL,
  client: OtelSpanKind.CLIENT,
  server: OtelSpanKind.SERVER,
};

/**
 * Random ids, except for the one span whose ids were chosen before (a run's, at submit):
 * `emit` sets them for the synchronous `startSpan` call that creates that span.
 */
class ChosenIds implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  next: { traceId: string; spanId: string } | undefined;

  generateTraceId(): string {
    return this.next?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.next?.spanId ?? this.random.generateSpanId();
  }
}

/** A remote parent's context, as the SDK takes it. */
function parentContext(parent: SpanIds | undefined): Context {
  if (!parent) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
}

function attributes(a: SpanAttributes | undefined): Attributes | undefined {
  if (!a) return undefined;
  const out: Attributes = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v as Attributes[string];
  return out;
}

function recordError(span: OtelSpan, error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message.slice(0, 500) });
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") span.setAttribute("error.type", code);
  else span.setAttribute("error.type", e.name || "Error");
}

class SdkSpan implements Span {
  readonly ids: SpanIds;
  private ended = false;

  constructor(private readonly span: OtelSpan) {
    const c = span.spanContext();
    this.ids = { traceId: c.traceId, spanId: c.spanId };
  }

  set(a: SpanAttributes): void {
    const attrs = attributes(a);
    if (attrs) this.span.setAttributes(attrs);
  }

  fail(error: unknown): void {
    recordError(this.span, error);
  }

  end(at?: Date): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end(at);
  }
}

export interface OtelTracingOptions {
  /** `service.name` when `OTEL_SERVICE_NAME` does not set one. Default "outlast". */
  serviceName?: string;
  serviceVersion?: string;
}

/**
 * Builds the SDK's tracer provider with the OTLP/HTTP exporter. Not registered as the
 * global provider: Outlast passes parents explicitly, so it neither needs nor disturbs an
 * application's own global OpenTelemetry set-up.
 */
export function createOtelTracing(opts: OtelTracingOptions = {}): Tracing {
  // Later merges win: the SDK's defaults, ours, then the environment's
  // (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        "service.name": opts.serviceName ?? "outlast",
        ...(opts.serviceVersion ? { "service.version": opts.serviceVersion } : {}),
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const ids = new ChosenIds();
  const provider = new BasicTracerProvider({
    resource,
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer("outlast", opts.serviceVersion);

  return {
    start(name, parent, o: SpanOptions = {}) {
      const span = tracer.startSpan(
        name,
        {
          kind: KINDS[o.kind ?? "internal"],
          attributes: attributes(o.attributes),
          startTime: o.startTime,
        },
        parentContext(parent),
      );
      return new SdkSpan(span);
    },
    emit(name, run: RunTrace, start, end, attrs, error) {
      const parent = run.parentSpanId
        ? { traceId: run.traceId, spanId: run.parentSpanId }
        : undefined;
      ids.next = { traceId: run.traceId, spanId: run.spanId };
      let span: OtelSpan;
      try {
        span = tracer.startSpan(
          name,
          { kind: OtelSpanKind.INTERNAL, attributes: attributes(attrs), startTime: start },
          parentContext(parent),
        );
      } finally {
        ids.next = undefined;
      }
      if (error !== undefined) recordError(span, error);
      span.end(end);
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
