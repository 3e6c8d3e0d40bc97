import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ThreadService } from "../../engine/thread-service.js";
import { RequestError } from "../../errors.js";
import { jsonBody } from "../middleware/json-body.js";
import { principalOf } from "../principal.js";
import { errors, json, NoQuery } from "../schemas.js";
import {
  CreateThreadBody,
  ForkBody,
  HistoryQuery,
  HistorySchema,
  ListThreadsQuery,
  MessageListSchema,
  MessagesQuery,
  PatchThreadBody,
  StateQuery,
  ThreadIdParam,
  ThreadListSchema,
  ThreadSchema,
  ThreadStateSchema,
  toMessageResource,
  toThreadResource,
  toVersionResource,
} from "../thread-schemas.js";

const tags = ["threads"];

const createThread = createRoute({
  method: "post",
  path: "/v1/threads",
  tags,
  summary: "Create a thread",
  description:
    "A thread is a session: a transcript, a state document and versions, run one run at a time. `POST /v1/runs {thread_id}` also creates it on first use.",
  middleware: [jsonBody()] as const,
  request: {
    query: NoQuery,
    body: { content: { "application/json": { schema: CreateThreadBody } }, required: true },
  },
  responses: {
    201: json(ThreadSchema, "The thread."),
    ...errors(400, 401, 409, 413, 415, 503),
  },
});

const getThread = createRoute({
  method: "get",
  path: "/v1/threads/{id}",
  tags,
  summary: "Get a thread",
  request: { params: ThreadIdParam, query: NoQuery },
  responses: { 200: json(ThreadSchema, "The thread."), ...errors(400, 401, 404, 503) },
});

const listThreads = createRoute({
  method: "get",
  path: "/v1/threads",
  tags,
  summary: "List threads",
  description:
    "In id order; `metadata[key]=value` (any number) keeps threads whose metadata has it.",
  request: { query: ListThreadsQuery },
  responses: { 200: json(ThreadListSchema, "A page of threads."), ...errors(400, 401, 503) },
});

const patchThread = createRoute({
  method: "patch",
  path: "/v1/threads/{id}",
  tags,
  summary: "Update a thread's metadata",
  middleware: [jsonBody()] as const,
  request: {
    params: ThreadIdParam,
    query: NoQuery,
    body: { content: { "application/json": { schema: PatchThreadBody } }, required: true },
  },
  responses: {
    200: json(ThreadSchema, "The thread."),
    ...errors(400, 401, 404, 413, 415, 503),
  },
});

const deleteThread = createRoute({
  method: "delete",
  path: "/v1/threads/{id}",
  tags,
  summary: "Delete a thread",
  description:
    "Deletes the thread, its messages and versions. Its runs keep their journals. A thread with a run in progress answers 409 OUTLAST_THREAD_BUSY.",
  request: { params: ThreadIdParam, query: NoQuery },
  responses: {
    204: { description: "Deleted." },
    ...errors(400, 401, 404, 409, 503),
  },
});

const listMessages = createRoute({
  method: "get",
  path: "/v1/threads/{id}/messages",
  tags,
  summary: "A thread's transcript, oldest first",
  request: { params: ThreadIdParam, query: MessagesQuery },
  responses: { 200: json(MessageListSchema, "A page of messages."), ...errors(400, 401, 404, 503) },
});

const getState = createRoute({
  method: "get",
  path: "/v1/threads/{id}/state",
  tags,
  summary: "A thread's state document",
  request: { params: ThreadIdParam, query: StateQuery },
  responses: { 200: json(ThreadStateSchema, "The state."), ...errors(400, 401, 404, 503) },
});

const getHistory = createRoute({
  method: "get",
  path: "/v1/threads/{id}/history",
  tags,
  summary: "A thread's versions, newest first, and the run that made each",
  request: { params: ThreadIdParam, query: HistoryQuery },
  responses: { 200: json(HistorySchema, "A page of versions."), ...errors(400, 401, 404, 503) },
});

const forkThread = createRoute({
  method: "post",
  path: "/v1/threads/{id}/fork",
  tags,
  summary: "Fork a thread at a version",
  description:
    "A new thread with the transcript and state of this one at `version`. Messages are shared, not copied.",
  middleware: [jsonBody()] as const,
  request: {
    params: ThreadIdParam,
    query: NoQuery,
    body: { content: { "application/json": { schema: ForkBody } }, required: true },
  },
  responses: {
    201: json(ThreadSchema, "The new thread."),
    ...errors(400, 401, 404, 409, 413, 415, 503),
  },
});

const METADATA_KEY = /^metadata\[([^\]]{1,128})\]$/;

/** `/v1/threads…`: every call names the caller's project (`principalOf(c).project`). */
export function registerThreadRoutes(app: OpenAPIHono, threads: ThreadService): void {
  app.openapi(createThread, async (c) => {
    const t = await threads.create(principalOf(c).project, c.req.valid("json"));
    return c.json(toThreadResource(t), 201, {
      Location: `/v1/threads/${encodeURIComponent(t.id)}`,
    });
  });

  app.openapi(getThread, async (c) => {
    const t = await threads.get(principalOf(c).project, c.req.valid("param").id);
    return c.json(toThreadResource(t), 200);
  });

  app.openapi(listThreads, async (c) => {
    const { limit, cursor, ...rest } = c.req.valid("query");
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(rest)) {
      const m = METADATA_KEY.exec(k);
      if (!m?.[1] || typeof v !== "string") {
        throw new RequestError(
          "OUTLAST_INVALID_REQUEST",
          `unknown query parameter "${k}"; filter by metadata with metadata[key]=value`,
        );
      }
      metadata[m[1]] = v;
    }
    const page = await threads.list(principalOf(c).project, {
      metadata,
      cursor,
      ...(limit === undefined ? {} : { limit }),
    });
    return c.json(
      { threads: page.threads.map(toThreadResource), next_cursor: page.next_cursor },
      200,
    );
  });

  app.openapi(patchThread, async (c) => {
    const { metadata } = c.req.valid("json");
    const t = await threads.patch(principalOf(c).project, c.req.valid("param").id, metadata);
    return c.json(toThreadResource(t), 200);
  });

  app.openapi(deleteThread, async (c) => {
    await threads.delete(principalOf(c).project, c.req.valid("param").id);
    return c.body(null, 204);
  });

  app.openapi(listMessages, async (c) => {
    const q = c.req.valid("query");
    const page = await threads.messages(principalOf(c).project, c.req.valid("param").id, {
      after: q.cursor,
      limit: q.limit,
    });
    return c.json(
      { messages: page.messages.map(toMessageResource), next_cursor: page.next_cursor },
      200,
    );
  });

  app.openapi(getState, async (c) => {
    const s = await threads.state(
      principalOf(c).project,
      c.req.valid("param").id,
      c.req.valid("query").version,
    );
    return c.json(s, 200);
  });

  app.openapi(getHistory, async (c) => {
    const q = c.req.valid("query");
    const page = await threads.history(principalOf(c).project, c.req.valid("param").id, {
      before: q.cursor,
      limit: q.limit,
    });
    return c.json(
      { versions: page.versions.map(toVersionResource), next_cursor: page.next_cursor },
      200,
    );
  });

  app.openapi(forkThread, async (c) => {
    const t = await threads.fork(
      principalOf(c).project,
      c.req.valid("param").id,
      c.req.valid("json"),
    );
    return c.json(toThreadResource(t), 201, {
      Location: `/v1/threads/${encodeURIComponent(t.id)}`,
    });
  });
}
