import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../src/api/app.js";
import { registerEventRoutes } from "../../src/api/routes/events.js";
import { type ApiServer, startApiServer } from "../../src/api/server.js";
import { RunService } from "../../src/engine/run-service.js";
import { parseSse } from "../../src/events/sse-parse.js";
import type { RunEvent } from "../../src/events/types.js";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import config from "../fixtures/events.config.js";
import { freshDatabaseUrl } from "../helpers/db.js";
import { type CliProcess, spawnCli } from "../helpers/processes.js";

/** Reads a run's SSE stream until `max` events arrived (then disconnects) or it ends. */
async function readStream(
  base: string,
  runId: string,
  lastEventId: number | undefined,
  max: number,
): Promise<{ events: RunEvent[]; ended: boolean; status: number }> {
  const ac = new AbortController();
  const res = await fetch(`${base}/v1/runs/${runId}/events`, {
    headers: {
      accept: "text/event-stream",
      ...(lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) }),
    },
    signal: ac.signal,
  });
  if (res.status === 204) return { events: [], ended: true, status: 204 };
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/event-stream");
  const events: RunEvent[] = [];
  for await (const msg of parseSse(res.body!)) {
    const ev = JSON.parse(msg.data) as RunEvent;
    expect(msg.id).toBe(String(ev.seq));
    expect(msg.event).toBe(ev.type);
    events.push(ev);
    if (events.length >= max) {
      ac.abort(); // the client goes away mid-stream
      return { events, ended: false, status: 200 };
    }
  }
  return { events, ended: true, status: 200 };
}

describe("SSE on PostgreSQL, run executed by a separate worker process", () => {
  let url: string;
  let drop: () => Promise<void>;
  let db: Db;
  let service: RunService;
  let server: ApiServer;
  let closeEvents: () => Promise<void>;
  let worker: CliProcess;

  beforeAll(async () => {
    ({ url, drop } = await freshDatabaseUrl());
    db = await openStore({ databaseUrl: url });
    service = new RunService(db, config.agents as never);
    await service.start();
    const app = createApi({ service });
    const events = registerEventRoutes(app, { service, pollIntervalMs: 2_000 });
    closeEvents = events.close;
    server = await startApiServer(app, { port: 0, hostname: "127.0.0.1" });
    worker = spawnCli(["worker", "--config", "test/fixtures/events.config.ts"], {
      DATABASE_URL: url,
    });
    await worker.waitFor(/worker started/);
  });

  afterAll(async () => {
    worker?.child.kill("SIGTERM");
    await worker?.exited;
    await closeEvents?.();
    await server?.close();
    await service?.stop();
    await db?.close();
    await drop?.();
  });

  it("a client that disconnects three times and resumes with Last-Event-ID sees every event exactly once, in order", async () => {
    const { run } = await service.submit({ agent: "thirty-steps-events" });
    const seen: RunEvent[] = [];
    const statusAtDisconnect: string[] = [];
    let last: number | undefined;
    // Three disconnects at different depths, then read to the end.
    for (const max of [4, 9, 11, Number.POSITIVE_INFINITY]) {
      const part = await readStream(server.url, run.id, last, max);
      seen.push(...part.events);
      last = seen.at(-1)?.seq ?? last;
      if (!part.ended) statusAtDisconnect.push((await service.get(run.id)).status);
      else break;
    }
    expect(statusAtDisconnect).toHaveLength(3);
    // The reconnects happened while the worker process was executing the run.
    expect(statusAtDisconnect.filter((s) => s === "running").length).toBeGreaterThanOrEqual(2);

    const stored = await db.query<{ seq: number; type: string }>(
      "SELECT seq, type FROM outlast.events WHERE run_id = $1 ORDER BY seq",
      [run.id],
    );
    expect(seen.map((e) => e.seq)).toEqual(stored.map((e) => e.seq));
    expect(seen.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(seen.map((e) => e.type)).toEqual(stored.map((e) => e.type));
    expect(seen[0]?.type).toBe("run.queued");
    expect(seen.filter((e) => e.type === "step.finished")).toHaveLength(30);
    // Each step's start comes right before its end (the steps run one after another).
    const steps = seen.filter((e) => e.type.startsWith("step."));
    expect(steps.map((e) => `${e.type} ${e.data.seq}`)).toEqual(
      Array.from({ length: 30 }, (_, i) => [
        `step.started ${i + 1}`,
        `step.finished ${i + 1}`,
      ]).flat(),
    );
    expect(seen.filter((e) => e.type === "run.progress").map((e) => e.data.progress)).toEqual([
      { done: 10, of: 30 },
      { done: 20, of: 30 },
      { done: 30, of: 30 },
    ]);
    const end = seen.at(-1)!;
    expect(end.type).toBe("run.succeeded");
    expect(end.data.output).toEqual({ sum: 465 });
    expect(end.data.agent).toBe("thirty-steps-events");

    // After the end: a reconnect from the last id gets 204 (EventSource stops retrying).
    expect((await readStream(server.url, run.id, end.seq, 1)).status).toBe(204);
    // ?after= works like Last-Event-ID; a bad id is a 400 with its code.
    const res = await fetch(`${server.url}/v1/runs/${run.id}/events?after=30`, {
      headers: { accept: "application/json" },
    });
    const page = (await res.json()) as { events: RunEvent[]; next_after: number };
    expect(page.events.map((e) => e.seq)).toEqual(stored.slice(30).map((e) => e.seq));
    const bad = await fetch(`${server.url}/v1/runs/${run.id}/events`, {
      headers: { "last-event-id": "seven" },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      "OUTLAST_INVALID_EVENT_ID",
    );
  });

  it("`outlast runs submit --wait` and `runs watch` show the live events, then the run", async () => {
    const submit = spawnCli(["runs", "submit", "quick", "--wait", "--url", server.url]);
    expect(await submit.exited).toBe(0);
    const out = submit.output();
    expect(out).toMatch(/#1 queued/);
    expect(out).toMatch(/#3 step 1 "one" started/);
    expect(out).toMatch(/#4 step 1 "one" succeeded/);
    expect(out).toMatch(/#5 progress \{"half":true\}/);
    expect(out).toMatch(/#8 succeeded/);
    const printed = JSON.parse(out.slice(out.indexOf("{\n"))) as { id: string; output: unknown };
    expect(printed.output).toEqual({ total: 3 });

    const watch = spawnCli(["runs", "watch", printed.id, "--after", "5", "--url", server.url]);
    expect(await watch.exited).toBe(0);
    expect(watch.output()).not.toMatch(/#5 /);
    expect(watch.output()).toMatch(
      /#6 step 2 "two" started[\s\S]*#7 step 2 "two" succeeded[\s\S]*#8 succeeded/,
    );
  });
});
