/**
 * `ctx.llm({model, thread: true, messages})` against the simulated provider (its own
 * process) through the gateway: the prompt is the whole transcript plus `messages`, and
 * `messages` and the reply are appended in the same journaled step.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineAgent } from "../../src/engine/agent.js";
import { RunService } from "../../src/engine/run-service.js";
import { ThreadService } from "../../src/engine/thread-service.js";
import { Worker } from "../../src/engine/worker.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";
import { type SimProcess, startSimProcess } from "../gateway/helpers.js";
import { openTestDb } from "../helpers/db.js";

let db: Db;
let close: () => Promise<void>;
let sim: SimProcess;

beforeAll(async () => {
  [sim, { db, close }] = await Promise.all([startSimProcess([]), openTestDb("postgres")]);
});

afterAll(async () => {
  await sim?.stop();
  await close?.();
});

describe("ctx.llm with thread: true", () => {
  let gateway: Gateway;
  let service: RunService;
  let worker: Worker;
  const agents = [
    defineAgent({
      name: "talker",
      run: async (ctx, input: { text: string }) => {
        const r = await ctx.llm({
          model: "m",
          thread: true,
          max_tokens: 20,
          messages: [{ role: "user", content: input.text }],
        });
        return { content: r.content, version: (r as { thread_version?: number }).thread_version };
      },
    }),
  ];

  beforeAll(async () => {
    gateway = createGateway({
      db,
      log: silentLogger,
      config: {
        providers: { sim: { baseUrl: `${sim.url}/v1`, apiKey: "k" } },
        models: { m: "sim/gpt-4o-mini" },
      },
    });
    await gateway.start();
    service = new RunService(db, agents);
    await service.start();
    worker = new Worker({ db, agents, llm: gateway, pollIntervalMs: 100 });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop(500);
    await service?.stop();
    await gateway?.close();
  });

  it("prompts with the transcript and appends the messages and the reply once", async () => {
    const first = await service.submit({
      agent: "talker",
      input: { text: "first" },
      thread_id: "l",
    });
    const second = await service.submit({
      agent: "talker",
      input: { text: "second" },
      thread_id: "l",
    });
    const o1 = (await service.waitFor(first.run.id, 20_000)).run;
    const o2 = (await service.waitFor(second.run.id, 20_000)).run;
    expect(o1.status).toBe("succeeded");
    expect(o2.status).toBe("succeeded");
    const threads = new ThreadService(db);
    const msgs = (await threads.messages("default", "l", {})).messages.map((m) => m.message);
    expect(msgs.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(msgs[0]).toEqual({ role: "user", content: "first" });
    expect(msgs[1]?.content).toBe((o1.output as { content: string }).content);
    expect((o2.output as { version: number }).version).toBe(2);
    // The second call's prompt was the whole transcript: the gateway recorded its input
    // tokens, more than the first call's. (The recorder writes in batches: flush first.)
    await gateway.flush();
    const calls = await db.query<{ input_tokens: number }>(
      "SELECT input_tokens FROM outlast.gateway_calls WHERE run_id = ANY($1::text[]) ORDER BY at",
      [[first.run.id, second.run.id]],
    );
    expect(calls).toHaveLength(2);
    expect(calls[1]!.input_tokens).toBeGreaterThan(calls[0]!.input_tokens + 5);
    const steps = await service.steps(second.run.id);
    expect(steps.map((s) => `${s.kind}:${s.name}`)).toEqual(["llm:llm:m"]);
  });
});
