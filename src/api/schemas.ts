/**
 * The API's request and response schemas. The same zod objects validate requests and
 * generate /openapi.json, so the documentation cannot drift from what the server accepts.
 * Bodies and query strings are strict: an unknown field or parameter is a 400, because a
 * typo such as `idempotencyKey` or `?stauts=failed` silently ignored does real harm.
 */

import { z } from "@hono/zod-openapi";
import { EVENT_FILTER_RE } from "../events/types.js";
import { MULTITASK_STRATEGIES, RUN_STATUSES, WAIT_KINDS } from "../types/index.js";
import { API_ERROR_CODES, type ApiErrorCode } from "./error-codes.js";

const RUN_ID_EXAMPLE = "0197a4e2-5b1c-7f00-8a3e-2d4c6b8e9f01";

/** A string without NUL characters, which Postgres text cannot hold. */
function text(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters");
}

/**
 * The ISO format check lets through dates such as 2025-02-30, which JavaScript silently
 * rolls over to March 2: refuse them instead of starting a run on the wrong day.
 */
function isRealDate(s: string): boolean {
  const [y, m, d] = s.slice(0, 10).split("-").map(Number) as [number, number, number];
  const day = new Date(0);
  day.setUTCFullYear(y, m - 1, d);
  return (
    y >= 1 &&
    y <= 9999 &&
    day.getUTCFullYear() === y &&
    day.getUTCMonth() === m - 1 &&
    day.getUTCDate() === d &&
    Number.isFinite(Date.parse(s))
  );
}

// ---------------------------------------------------------------- errors

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z
        .enum(Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]])
        .openapi({ description: "Stable code; see the error code table." }),
      message: z.string().openapi({ description: "What went wrong and what to fix." }),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

// ---------------------------------------------------------------- runs

const SerializedErrorSchema = z
  .object({
    name: z.string(),
    message: z.string(),
    code: z.string().optional(),
    retryable: z.boolean().optional(),
  })
  .openapi("RunError");

export const RunSchema = z
  .object({
    id: z.string().openapi({ format: "uuid", example: RUN_ID_EXAMPLE }),
    project: z.string().openapi({
      description: "The project the run belongs to: the submitting key's.",
      example: "default",
    }),
    agent: z.string(),
    queue: z.string(),
    status: z.enum(RUN_STATUSES),
    input: z.unknown(),
    output: z.unknown(),
    error: SerializedErrorSchema.nullable(),
    progress: z.unknown(),
    thread_id: z.string().nullable(),
    priority: z.number().int(),
    tags: z.record(z.string(), z.string()),
    idempotency_key: z.string().nullable(),
    attempts: z.number().int().openapi({
      description:
        "Attempts begun: an attempt is one execution begun after n errored attempts, so a first-try success shows 1. Continuing after a wait, a throttle, a drain or a lease loss stays in the same attempt. Never above max_attempts.",
    }),
    max_attempts: z.number().int().openapi({
      description: "The agent's retry.maxAttempts as the worker executing the run has it.",
    }),
    cancel_requested: z.boolean(),
    created_at: z.string().openapi({ format: "date-time" }),
    available_at: z.string().nullable().openapi({
      format: "date-time",
      description:
        "When the run is ready to run; null while it waits only for an event (a signal, a child run).",
    }),
    started_at: z.string().nullable().openapi({ format: "date-time" }),
    finished_at: z.string().nullable().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
    duration_ms: z.number().nullable().openapi({ description: "finished_at − started_at" }),
    waiting_for: z
      .object({
        kind: z.enum(WAIT_KINDS).openapi({
          description:
            "What holds the run: sleep, signal, child (waiting); provider_limit, cap (throttled); retry, scheduled (queued); no_worker (ready, but no live worker serves its queue); thread (queued behind its thread's earlier runs); budget (reserved). Kinds are added, never changed.",
        }),
        reason: z.string().openapi({ description: "Why, in a sentence for people." }),
        waits: z.array(
          z.object({
            seq: z.number().int(),
            kind: z.enum(["sleep", "signal", "child"]),
            name: z.string(),
            until: z.string().optional(),
            childId: z.string().optional(),
          }),
        ),
        signals: z.array(z.string()),
        until: z.string().nullable(),
        limit: z
          .string()
          .optional()
          .openapi({ description: "A throttled run: the limit that holds it." }),
        eta: z
          .string()
          .optional()
          .openapi({ description: "A throttled run: when it expects to go on." }),
        queue: z
          .string()
          .optional()
          .openapi({ description: "no_worker: the queue no live worker serves." }),
        thread_id: z
          .string()
          .optional()
          .openapi({ description: "thread: the thread the run is queued behind." }),
      })
      .nullable()
      .openapi({ description: "Why a run that is not running waits; null when nothing holds it." }),
    parent_run_id: z
      .string()
      .nullable()
      .openapi({ description: "The run that started this one with ctx.runAgent." }),
    agent_version: z.string().nullable(),
    trace_id: z.string().nullable().openapi({
      description:
        "The run's OpenTelemetry trace id (docs/tracing.md); null when the run is not traced.",
    }),
  })
  .openapi("Run");

export type RunResource = z.infer<typeof RunSchema>;

export const StepSchema = z
  .object({
    seq: z.number().int(),
    name: z.string(),
    kind: z.string(),
    status: z.string().openapi({
      description: "running (started, not ended: in progress or interrupted) | succeeded | failed",
    }),
    output: z.unknown(),
    error: SerializedErrorSchema.nullable(),
    attempt: z.number().int(),
    started_at: z.string().nullable().openapi({ format: "date-time" }),
    finished_at: z.string().nullable().openapi({ format: "date-time" }),
    duration_ms: z.number().nullable(),
  })
  .openapi("Step");

export type StepResource = z.infer<typeof StepSchema>;

// ---------------------------------------------------------------- webhooks

/** An event filter: an exact event type, a family (`run.*`, `step.*`) or `*`. */
export const EventPattern = z
  .string()
  .max(64)
  .regex(EVENT_FILTER_RE, 'expected an event type such as "run.failed", or "run.*", "step.*", "*"')
  .openapi({ example: "run.failed" });

/** An http(s) URL a webhook is sent to. */
export const WebhookUrl = z
  .url({ protocol: /^https?$/, message: "expected an http or https URL" })
  .max(2048)
  .openapi({ example: "https://example.com/hooks/outlast" });

export const RunWebhookBody = z
  .strictObject({
    url: WebhookUrl,
    events: z.array(EventPattern).min(1).max(20).optional().openapi({
      description:
        "Which of the run's events to send. Default: the end (run.succeeded, run.failed, run.cancelled).",
    }),
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/, "expected whsec_ and at least 16 bytes in base64")
      .optional()
      .openapi({
        description: "Signing secret; default the deployment's (GET /v1/webhooks/secret).",
      }),
  })
  .openapi("RunWebhook");

/** A run's tags: `tenant` and `feature` attribute its LLM calls and hold it to its caps. */
export const RunTags = z
  .record(
    text(64),
    z
      .string()
      .max(512)
      .refine((s) => !s.includes("\u0000"), "must not contain NUL characters"),
  )
  .refine((t) => Object.keys(t).length <= 32, "at most 32 tags");

export const SubmitRunBody = z
  .strictObject({
    agent: text(128).openapi({ description: "Name of a registered agent.", example: "hello" }),
    input: z
      .unknown()
      .optional()
      .openapi({
        description: "Passed to the agent; checked against its input schema.",
        example: { name: "Ada" },
      }),
    queue: text(128).optional().openapi({ description: "Default: the agent's queue." }),
    priority: z
      .union([
        z.number().int().min(-1000).max(1000),
        z.enum(["interactive", "normal", "background"]),
      ])
      .optional()
      .openapi({
        description:
          "Higher runs first. Default 0. Classes: `interactive` (100) runs before `normal` (0), which runs before `background` (-100).",
      }),
    thread_id: text(255).optional().openapi({
      description:
        "The thread the run belongs to, created on first use: a thread runs one run at a time, in submit order.",
    }),
    multitask_strategy: z.enum(MULTITASK_STRATEGIES).optional().openapi({
      description:
        "With `thread_id`, when the thread is busy: `enqueue` (default) waits its turn; `reject` answers 409 OUTLAST_THREAD_BUSY; `interrupt` stops the active run at its next step boundary (`cancelled`, OUTLAST_INTERRUPTED) and runs after it; `rollback` does the same and undoes what the stopped run wrote to the thread.",
    }),
    idempotency_key: text(255).optional().openapi({
      description:
        "A second submit with the same key returns the first run (202, Idempotent-Replayed: true).",
    }),
    tags: RunTags.optional().openapi({ example: { tenant: "acme", feature: "support" } }),
    webhook: RunWebhookBody.optional().openapi({
      description:
        "Push this run's events (by default its end) to a URL, signed per Standard Webhooks and retried for hours.",
    }),
    run_at: z.iso
      .datetime({ offset: true })
      .refine(isRealDate, "must be a real date and time, years 1 to 9999")
      .optional()
      .openapi({ description: "Do not start before this time (ISO 8601)." }),
  })
  .openapi("SubmitRun");

export const SubmitRunQuery = z.strictObject({
  wait: z.coerce
    .number()
    .gt(0)
    .max(60)
    .optional()
    .openapi({
      param: { name: "wait", in: "query" },
      description:
        "Seconds (0 < wait ≤ 60) to wait for the run to finish: 200 with the finished run, or 202 with its state when the time is up.",
      example: 10,
    }),
});

export const RunIdParam = z.object({
  // Long enough for any UUID spelling; the service then checks it is one (OUTLAST_INVALID_ID).
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, format: "uuid", example: RUN_ID_EXAMPLE }),
});

export const NoQuery = z.strictObject({});

/** `?limit=` of every paged list. */
export const PageLimit = z.coerce
  .number()
  .int()
  .min(1)
  .max(200)
  .optional()
  .openapi({ param: { name: "limit", in: "query" }, description: "1–200, default 50." });

export const ListRunsQuery = z.strictObject({
  status: z
    .enum(RUN_STATUSES)
    .optional()
    .openapi({ param: { name: "status", in: "query" } }),
  agent: text(128)
    .optional()
    .openapi({ param: { name: "agent", in: "query" } }),
  thread_id: text(255)
    .optional()
    .openapi({ param: { name: "thread_id", in: "query" } }),
  cursor: z
    .string()
    .max(64)
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "next_cursor of the previous page.",
    }),
  limit: PageLimit,
});

export const RunListSchema = z
  .object({
    runs: z.array(RunSchema),
    next_cursor: z.string().nullable().openapi({ description: "null on the last page." }),
  })
  .openapi("RunList");

export const StepListSchema = z.object({ steps: z.array(StepSchema) }).openapi("StepList");

// ---------------------------------------------------------------- health

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");
export const ReadySchema = z.object({ status: z.literal("ready") }).openapi("Ready");

// ---------------------------------------------------------------- response helpers

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export function errors<const S extends readonly number[]>(...statuses: S) {
  const out = {} as Record<S[number], ReturnType<typeof json<typeof ErrorSchema>>>;
  for (const s of statuses)
    out[s as S[number]] = json(ErrorSchema, ERROR_DESCRIPTIONS[s] ?? "Error");
  return out;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "The request is invalid; the message names the field.",
  401: "Missing or wrong API key.",
  403: "The key's role may not do this.",
  429: "Rate limited (Retry-After).",
  404: "Not found.",
  409: "Conflicts with the run's state.",
  413: "Body too large.",
  415: "Body is not JSON.",
  503: "Database briefly unavailable (Retry-After).",
};

export const SignalParam = z.object({
  id: RunIdParam.shape.id,
  name: z
    .string()
    .max(128)
    .openapi({ param: { name: "name", in: "path" }, example: "approval" }),
});

export const SignalBody = z
  .strictObject({
    payload: z
      .unknown()
      .optional()
      .openapi({ description: "Any JSON; returned by ctx.waitForSignal." }),
  })
  .openapi("Signal");
