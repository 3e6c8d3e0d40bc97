import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { Worker } from "../../src/engine/worker.js";
import type { Db } from "../../src/store/db.js";
import { BACKENDS, openTestDb } from "../helpers/db.js";
import { call } from "./http.js";

describe.each(BACKENDS)("threads API on %s", (backend) => {
  let db: Db;
  let close: () => Promise<void>;
  let service: RunService;
  let app: OpenAPIHono;
  const workers: Worker[] = [];
  let openGate: () => void = () => {};

  const agents = [
    defineAgent({
      name: "chat",
      run: async (ctx, input: { text: string; hold?: boolean }) => {
        await ctx.thread.append({ role: "user", content: input.text });
        if (input.hold) {
          await ctx.step("hold", () => new Promise<void>((r) => (openGate = r)));
        }
        await ctx.thread.setState({ last: input.text });
        return "ok";
      },
    }),
  ];

  beforeEach(async () => {
    ({ db, close } = await openTestDb(backend));
    service = new RunService(db, agents);
    await service.start();
    app = createApi({ service });
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(500);
    await service.stop();
    await close();
  });

  it("creates, reads, lists by metadata, patches and deletes threads", async () => {
    const made = await call(app, "POST", "/v1/threads", {
      json: { id: "t1", metadata: { user: "ada", plan: "pro" } },
    });
    expect(made.status).toBe(201);
    expect(made.headers.get("location")).toBe("/v1/threads/t1");
    expect(made.body).toMatchObject({
      id: "t1",
      status: "idle",
      version: 0,
      message_count: 0,
      metadata: { user: "ada", plan: "pro" },
    });
    expect((await call(app, "POST", "/v1/threads", { json: { id: "t1" } })).body.error.code).toBe(
      "OUTLAST_THREAD_EXISTS",
    );
    const anon = await call(app, "POST", "/v1/threads", { json: { metadata: { user: "bob" } } });
    expect(anon.status).toBe(201);
    const byUser = await call(app, "GET", "/v1/threads?metadata[user]=ada");
    expect(byUser.body.threads.map((t: { id: string }) => t.id)).toEqual(["t1"]);
    const page = await call(app, "GET", "/v1/threads?limit=1");
    expect(page.body.threads).toHaveLength(1);
    expect(page.body.next_cursor).toBe(page.body.threads[0].id);
    expect((await call(app, "GET", "/v1/threads?nope=1")).status).toBe(400);
    const patched = await call(app, "PATCH", "/v1/threads/t1", {
      json: { metadata: { plan: null, seat: 3 } },
    });
    expect(patched.body.metadata).toEqual({ user: "ada", seat: 3 });
    expect((await call(app, "GET", "/v1/threads/t1")).body.metadata).toEqual({
      user: "ada",
      seat: 3,
    });
    expect((await call(app, "DELETE", "/v1/threads/t1")).status).toBe(204);
    const gone = await call(app, "GET", "/v1/threads/t1");
    expect([gone.status, gone.body.error.code]).toEqual([404, "OUTLAST_THREAD_NOT_FOUND"]);
    expect((await call(app, "DELETE", "/v1/threads/t1")).status).toBe(404);
  });

  it("POST /v1/runs {thread_id} creates the thread; messages, state, history, fork; reject is 409", async () => {
    const w = new Worker({ db, agents });
    workers.push(w);
    await w.start();
    const first = await call(app, "POST", "/v1/runs?wait=10", {
      json: { agent: "chat", input: { text: "hello" }, thread_id: "conv" },
    });
    expect(first.status).toBe(200);
    const t = await call(app, "GET", "/v1/threads/conv");
    expect(t.body).toMatchObject({ id: "conv", status: "idle", version: 2, message_count: 1 });
    const held = await call(app, "POST", "/v1/runs", {
      json: { agent: "chat", input: { text: "wait", hold: true }, thread_id: "conv" },
    });
    await new Promise((r) => setTimeout(r, 300));
    const busy = await call(app, "GET", "/v1/threads/conv");
    expect(busy.body).toMatchObject({ status: "busy", active_run_id: held.body.id });
    const refused = await call(app, "POST", "/v1/runs", {
      json: {
        agent: "chat",
        input: { text: "no" },
        thread_id: "conv",
        multitask_strategy: "reject",
      },
    });
    expect([refused.status, refused.body.error.code]).toEqual([409, "OUTLAST_THREAD_BUSY"]);
    expect((await call(app, "DELETE", "/v1/threads/conv")).body.error.code).toBe(
      "OUTLAST_THREAD_BUSY",
    );
    const bad = await call(app, "POST", "/v1/runs", {
      json: {
        agent: "chat",
        input: { text: "no" },
        thread_id: "conv",
        multitask_strategy: "later",
      },
    });
    expect(bad.status).toBe(400);
    openGate();
    await service.waitFor(held.body.id, 10_000);

    const msgs = await call(app, "GET", "/v1/threads/conv/messages?limit=1");
    expect(msgs.body).toEqual({
      messages: [{ seq: 1, version: 1, message: { role: "user", content: "hello" } }],
      next_cursor: 1,
    });
    const rest = await call(app, "GET", "/v1/threads/conv/messages?cursor=1");
    expect(
      rest.body.messages.map((m: { message: { content: string } }) => m.message.content),
    ).toEqual(["wait"]);
    expect((await call(app, "GET", "/v1/threads/conv/state")).body).toEqual({
      version: 4,
      message_count: 2,
      state: { last: "wait" },
    });
    expect((await call(app, "GET", "/v1/threads/conv/state?version=2")).body.state).toEqual({
      last: "hello",
    });
    expect((await call(app, "GET", "/v1/threads/conv/state?version=9")).body.error.code).toBe(
      "OUTLAST_THREAD_VERSION_NOT_FOUND",
    );
    const hist = await call(app, "GET", "/v1/threads/conv/history");
    expect(
      hist.body.versions.map((v: { version: number; kind: string; run_id: string }) => [
        v.version,
        v.kind,
        v.run_id,
      ]),
    ).toEqual([
      [4, "state", held.body.id],
      [3, "append", held.body.id],
      [2, "state", first.body.id],
      [1, "append", first.body.id],
    ]);
    const fork = await call(app, "POST", "/v1/threads/conv/fork", {
      json: { version: 2, id: "conv-b" },
    });
    expect(fork.status).toBe(201);
    expect(fork.body).toMatchObject({
      id: "conv-b",
      message_count: 1,
      forked_from: { thread_id: "conv", version: 2 },
    });
    expect((await call(app, "GET", "/v1/threads/conv-b/state")).body.state).toEqual({
      last: "hello",
    });
    const runs = await call(app, "GET", "/v1/runs?thread_id=conv");
    expect(runs.body.runs).toHaveLength(2);
  });
});
