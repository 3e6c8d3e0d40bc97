import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import type { RunService } from "../../engine/run-service.js";
import { RequestError } from "../../errors.js";
import { EventBus } from "../../events/bus.js";
import { followEvents, isStreamOver, listEvents } from "../../events/reader.js";
import { RUN_EVENT_TYPES } from "../../events/types.js";
import { principalOf } from "../principal.js";
import { errors, RunIdParam } from "../schemas.js";

export const RunEventSchema = z
  .object({
    run_id: z.string().openapi({ format: "uuid" }),
    seq: z.number().int().openapi({
      description: "Per run, from 1, without gaps; the SSE `id`, for Last-Event-ID.",
    }),
    type: z.enum(RUN_EVENT_TYPES),
    at: z.string().openapi({ format: "date-time" }),
    data: z.record(z.string(), z.unknown()).openapi({
      description:
        "run.*: status, previous_status, agent, attempt, output (succeeded), error, waiting_for, available_at; run.progress: progress; step.started: seq, name, kind, attempt, started_at; step.finished: the same and status, finished_at, error.",
    }),
  })
  .openapi("RunEvent");

const EventListSchema = z
  .object({
    events: z.array(RunEventSchema),
    next_after: z.number().int().openapi({ description: "Pass as `after` for the next page." }),
  })
  .openapi("RunEventList");

const EventsQuery = z.strictObject({
  after: z
    .string()
    .max(12)
    .optional()
    .openapi({
      param: { name: "after", in: "query" },
      description: "Start after this event number (Last-Event-ID takes precedence). Default 0.",
    }),
});

const streamEvents = createRoute({
  method: "get",
  path: "/v1/runs/{id}/events",
  tags: ["runs"],
  summary: "Stream a run's events (SSE)",
  description:
    "Server-sent events: every status change, finished step and progress of the run, each with its per-run number as the SSE `id`. Reconnect with `Last-Event-ID` (or `?after=`) to resume without gaps or duplicates. The stream ends after the run's final event; a request after the end gets 204. With `Accept: application/json` instead: one page of events as JSON.",
  request: { params: RunIdParam, query: EventsQuery },
  responses: {
    200: {
      description: "text/event-stream of RunEvent (or a JSON page, by Accept).",
      content: {
        "text/event-stream": { schema: z.string() },
        "application/json": { schema: EventListSchema },
      },
    },
    204: { description: "The run is over and no event follows `after`." },
    ...errors(400, 401, 404, 503),
  },
});

export interface EventRouteDeps {
  service: RunService;
  /** Fallback poll of a stream when no NOTIFY arrives. Default 1000. */
  pollIntervalMs?: number;
  /** Keep-alive comment on an idle stream, for proxies. Default 15000. */
  keepAliveMs?: number;
  /** Aborted on shutdown: open streams end, so the HTTP server can close at once. */
  signal?: AbortSignal | undefined;
}

export interface EventRoutes {
  /** Ends every open stream and stops listening (before the server closes). */
  close(): Promise<void>;
}

function parseAfter(header: string | undefined, query: string | undefined): number {
  const raw = header ?? query;
  if (raw === undefined || raw === "") return 0;
  if (!/^\d{1,10}$/.test(raw.trim())) {
    throw new RequestError(
      "OUTLAST_INVALID_EVENT_ID",
      `${header !== undefined ? "Last-Event-ID" : "after"} must be an event number (a non-negative integer), got "${raw.slice(0, 40)}"`,
    );
  }
  return Number(raw.trim());
}

/**
 * `GET /v1/runs/{id}/events`. Streams work wherever the run executes: the triggers NOTIFY
 * on every event and the stream polls as a fallback.
 *
 * @example
 * ```ts
 * const app = createApi({ service });
 * const events = registerEventRoutes(app, { service });
 * // on shutdown, before the HTTP server closes:
 * await events.close();
 * ```
 */
export function registerEventRoutes(app: OpenAPIHono, deps: EventRouteDeps): EventRoutes {
  const bus = new EventBus(deps.service.db);
  const shutdown = new AbortController();
  const db = deps.service.db;
  const close = async (): Promise<void> => {
    shutdown.abort();
    await bus.close();
  };
  deps.signal?.addEventListener("abort", () => void close(), { once: true });

  app.openapi(streamEvents, async (c) => {
    const { id } = c.req.valid("param");
    const after = parseAfter(c.req.header("last-event-id"), c.req.valid("query").after);
    await deps.service.get(id, principalOf(c).project); // 400 / 404 (another project's run too)
    const accept = c.req.header("accept") ?? "";
    if (accept.includes("application/json") && !accept.includes("text/event-stream")) {
      const events = await listEvents(db, id, after, 500);
      return c.json({ events, next_after: events.at(-1)?.seq ?? after }, 200);
    }
    if (await isStreamOver(db, id, after)) return c.body(null, 204);
    const response = streamSSE(c, async (stream) => {
      const stop = new AbortController();
      const abort = () => stop.abort();
      stream.onAbort(abort);
      c.req.raw.signal?.addEventListener("abort", abort, { once: true });
      shutdown.signal.addEventListener("abort", abort, { once: true });
      await bus.watch(id);
      try {
        // Sends the headers at once and tells EventSource to reconnect after 1 s.
        await stream.write(": stream of run events\nretry: 1000\n\n");
        for await (const ev of followEvents(db, bus, id, {
          after,
          pollIntervalMs: deps.pollIntervalMs ?? 1_000,
          signal: stop.signal,
          idle: {
            everyMs: deps.keepAliveMs ?? 15_000,
            fn: () => stream.write(": keep-alive\n\n").then(() => {}),
          },
        })) {
          await stream.writeSSE({ id: String(ev.seq), event: ev.type, data: JSON.stringify(ev) });
        }
      } finally {
        shutdown.signal.removeEventListener("abort", abort);
        await bus.unwatch(id);
      }
    });
    return response as never;
  });

  return { close };
}
