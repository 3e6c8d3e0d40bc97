/**
 * What the engine, the gateway and the webhooks see of tracing: a tiny interface with no
 * OpenTelemetry import. The one implementation (`otel.ts`) is loaded by `startTracing`
 * (`index.ts`) with a dynamic import, only when an OTLP endpoint is configured; without
 * one, callers hold `undefined` and every hook is a skipped `if`.
 */

/** A span's place in a trace: 32 and 16 lowercase hex digits (W3C trace context). */
export interface SpanIds {
  traceId: string;
  spanId: string;
}

/**
 * A run's trace, chosen at submit and stored on the run (migration 014): the run's span
 * is emitted with these ids by whichever process finishes the run, hours and processes
 * later; its attempts, steps and model calls are its children meanwhile.
 */
export interface RunTrace extends SpanIds {
  /** The span of the caller's `traceparent` at submit, or the parent run's span. */
  parentSpanId: string | null;
}

export type SpanAttributes = Record<
  string,
  string | number | boolean | readonly string[] | undefined
>;

export type SpanKind = "internal" | "client" | "server";

/** A span being recorded. `end` may be called more than once; the first call counts. */
export interface Span {
  readonly ids: SpanIds;
  set(attributes: SpanAttributes): void;
  /** Marks the span as failed with `error` (status ERROR and an `exception` event). */
  fail(error: unknown): void;
  end(at?: Date): void;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: SpanAttributes;
  startTime?: Date;
}

export interface Tracing {
  /** Starts a span under `parent` (a span of this or another process), or a new trace. */
  start(name: string, parent: SpanIds | undefined, opts?: SpanOptions): Span;
  /**
   * Records a whole span at once whose ids were chosen earlier (a run's, at submit): it
   * began `start` (in another process, perhaps) and ends `end`.
   */
  emit(
    name: string,
    ids: RunTrace,
    start: Date,
    end: Date,
    attributes: SpanAttributes,
    error?: unknown,
  ): void;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}
