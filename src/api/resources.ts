/**
 * How rows become API resources: dates as ISO strings, `attempt` shown as `attempts`, and
 * errors without their stack (a stack names server files and is no business of clients).
 */

import type { SerializedError } from "../errors.js";
import type { RunRow } from "../types/index.js";
import type { RunResource, StepResource } from "./schemas.js";

type Instant = Date | string | null | undefined;

function iso(d: Instant | number): string | null {
  if (d === null || d === undefined) return null;
  const t = d instanceof Date ? d : new Date(d);
  // A run parked until an event arrives is available at 'infinity': no date to show.
  return Number.isFinite(t.getTime()) ? t.toISOString() : null;
}

function millis(from: Instant, to: Instant): number | null {
  if (!from || !to) return null;
  return new Date(to).getTime() - new Date(from).getTime();
}

function publicError(e: SerializedError | null | undefined): RunResource["error"] {
  if (!e) return null;
  return {
    name: e.name,
    message: e.message,
    ...(e.code === undefined ? {} : { code: e.code }),
    ...(e.retryable === undefined ? {} : { retryable: e.retryable }),
  };
}

/**
 * A run as the API shows it.
 *
 * @example
 * ```ts
 * const { run } = await service.submit({ agent: "hello" });
 * return c.json(toRunResource(run), 202);
 * ```
 */
export function toRunResource(row: RunRow): RunResource {
  return {
    id: row.id,
    project: row.project,
    agent: row.agent,
    queue: row.queue,
    status: row.status as RunResource["status"],
    input: row.input ?? null,
    output: row.output ?? null,
    error: publicError(row.error),
    progress: row.progress ?? null,
    thread_id: row.thread_id,
    priority: row.priority,
    tags: row.tags ?? {},
    idempotency_key: row.idempotency_key,
    attempts: row.attempt,
    max_attempts: row.max_attempts,
    cancel_requested: row.cancel_requested,
    created_at: iso(row.created_at)!,
    available_at: iso(row.available_at),
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    updated_at: iso(row.updated_at)!,
    duration_ms: millis(row.started_at, row.finished_at),
    waiting_for: row.waiting_for ?? null,
    parent_run_id: row.parent_run_id ?? null,
    agent_version: row.agent_version ?? null,
    trace_id: row.trace_id ?? null,
  };
}

/**
 * A journaled step as the API shows it (one row of `service.steps(id)`).
 *
 * @example
 * ```ts
 * const steps = (await service.steps(id)).map(toStepResource);
 * ```
 */
export function toStepResource(row: Record<string, unknown>): StepResource {
  const startedAt = row.started_at as Instant;
  const finishedAt = row.finished_at as Instant;
  return {
    seq: Number(row.seq),
    name: String(row.name),
    kind: String(row.kind),
    status: String(row.status),
    output: row.output ?? null,
    error: publicError(row.error as SerializedError | null),
    attempt: Number(row.attempt ?? 0),
    started_at: iso(startedAt),
    finished_at: iso(finishedAt),
    duration_ms: millis(startedAt, finishedAt),
  };
}
