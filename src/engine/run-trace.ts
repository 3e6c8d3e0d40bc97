/**
 * The engine's spans (docs/tracing.md): a run's span, emitted once by whichever process
 * finishes the run with the ids stored at submit; under it one span per execution of an
 * attempt (a claim), and under that one per step whose body runs. Replayed steps are not
 * spans again: they were recorded when they ran.
 */
import type { RunTrace, SpanAttributes, Tracing } from "../tracing/types.js";
import type { ClaimedRun, RunRow } from "../types/index.js";

/** The run's stored trace, when it is traced. */
export function claimedTrace(run: ClaimedRun): RunTrace | undefined {
  if (!run.traceId || !run.spanId) return undefined;
  return { traceId: run.traceId, spanId: run.spanId, parentSpanId: run.parentSpanId ?? null };
}

/** The attributes every span of a run carries. */
export function runAttributes(run: { id: string; agent: string; queue: string }): SpanAttributes {
  return { "outlast.run.id": run.id, "outlast.agent": run.agent, "outlast.queue": run.queue };
}

/**
 * Emits a finished run's span: from its submission (`created_at`) to now, with the ids
 * chosen at submit, so that it is the parent of the spans other processes recorded.
 */
export function emitRunSpan(
  tracing: Tracing,
  trace: RunTrace,
  run: { id: string; agent: string; queue: string; createdAt?: Date | string | undefined },
  status: string,
  attempts: number,
  error: unknown,
): void {
  const end = new Date();
  const start = run.createdAt ? new Date(run.createdAt) : end;
  tracing.emit(
    `run ${run.agent}`,
    trace,
    start.getTime() <= end.getTime() ? start : end,
    end,
    { ...runAttributes(run), "outlast.run.status": status, "outlast.run.attempts": attempts },
    status === "failed" ? error : undefined,
  );
}

/** A run row's stored trace (the API's cancel of a run that was not executing). */
export function rowTrace(row: RunRow): RunTrace | undefined {
  if (!row.trace_id || !row.span_id) return undefined;
  return { traceId: row.trace_id, spanId: row.span_id, parentSpanId: row.parent_span_id };
}
