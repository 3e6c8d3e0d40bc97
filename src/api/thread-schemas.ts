import { z } from "@hono/zod-openapi";
import type { ThreadMessage, ThreadRow, ThreadVersionRow } from "../types/index.js";
import { PageLimit } from "./schemas.js";

/**
 * The thread API's shapes (/v1/threads…, routes/threads.ts) and the mapping from store
 * rows to the resources it shows.
 */

const Metadata = z
  .record(z.string().max(128), z.unknown())
  .openapi({ description: "Any JSON object; list threads by its keys (`?metadata[k]=v`)." });

export const ThreadSchema = z
  .object({
    id: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    status: z.enum(["idle", "busy"]).openapi({ description: "`busy` while a run holds it." }),
    active_run_id: z.string().nullable().openapi({ description: "The run that holds it." }),
    version: z.number().int().openapi({ description: "The current version (0: never written)." }),
    message_count: z.number().int(),
    forked_from: z.object({ thread_id: z.string(), version: z.number().int() }).nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Thread");

export const ThreadListSchema = z
  .object({ threads: z.array(ThreadSchema), next_cursor: z.string().nullable() })
  .openapi("ThreadList");

export const ThreadIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(255)
    .openapi({ param: { name: "id", in: "path" }, example: "support-42" }),
});

export const CreateThreadBody = z
  .strictObject({
    id: z.string().min(1).max(255).optional().openapi({ description: "Default: a UUIDv7." }),
    metadata: Metadata.optional(),
  })
  .openapi("CreateThread");

export const PatchThreadBody = z
  .strictObject({
    metadata: Metadata.openapi({
      description: "Merged into the metadata; a null value removes its key.",
    }),
  })
  .openapi("PatchThread");

/** `?limit&cursor` and any number of `metadata[key]=value` (checked in the route). */
export const ListThreadsQuery = z
  .object({
    limit: PageLimit,
    cursor: z
      .string()
      .max(255)
      .optional()
      .openapi({ param: { name: "cursor", in: "query" } }),
  })
  .catchall(z.string());

const Cursor = z.coerce.number().int().min(0).optional();

export const MessagesQuery = z.strictObject({
  limit: PageLimit,
  cursor: Cursor.openapi({
    param: { name: "cursor", in: "query" },
    description: "next_cursor of the previous page (a message position).",
  }),
});

export const HistoryQuery = z.strictObject({
  limit: PageLimit,
  cursor: Cursor.openapi({
    param: { name: "cursor", in: "query" },
    description: "next_cursor of the previous page (a version).",
  }),
});

export const StateQuery = z.strictObject({
  version: Cursor.openapi({
    param: { name: "version", in: "query" },
    description: "Default: the current version.",
  }),
});

export const MessageListSchema = z
  .object({
    messages: z.array(
      z.object({
        seq: z.number().int(),
        version: z.number().int(),
        message: z.record(z.string(), z.unknown()).openapi({
          description: "OpenAI-shaped: role, content (text or parts), tool_calls, tool_call_id.",
        }),
      }),
    ),
    next_cursor: z.number().int().nullable(),
  })
  .openapi("ThreadMessages");

export const ThreadStateSchema = z
  .object({
    version: z.number().int(),
    message_count: z.number().int(),
    state: z.record(z.string(), z.unknown()),
  })
  .openapi("ThreadState");

export const HistorySchema = z
  .object({
    versions: z.array(
      z.object({
        version: z.number().int(),
        kind: z.string().openapi({ description: "append | state | fork" }),
        run_id: z.string().nullable(),
        message_count: z.number().int(),
        state_changed: z.boolean(),
        created_at: z.string().openapi({ format: "date-time" }),
      }),
    ),
    next_cursor: z.number().int().nullable(),
  })
  .openapi("ThreadHistory");

export const ForkBody = z
  .strictObject({
    version: z.number().int().min(0).optional().openapi({ description: "Default: current." }),
    id: z.string().min(1).max(255).optional().openapi({ description: "The new thread's id." }),
    metadata: Metadata.optional(),
  })
  .openapi("ForkThread");

// ---------------------------------------------------------------- resources

function iso(d: Date | string): string {
  return new Date(d).toISOString();
}

export function toThreadResource(t: ThreadRow): z.infer<typeof ThreadSchema> {
  return { ...t, created_at: iso(t.created_at), updated_at: iso(t.updated_at) };
}

export function toMessageResource(m: ThreadMessage): ThreadMessage {
  return { seq: m.seq, version: m.version, message: m.message };
}

export function toVersionResource(v: ThreadVersionRow) {
  return { ...v, created_at: iso(v.created_at) };
}
