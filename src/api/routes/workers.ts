import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { RunService } from "../../engine/run-service.js";
import { WorkerRegistry, type WorkerRow } from "../../store/worker-registry.js";
import { errors, json, NoQuery } from "../schemas.js";

const WorkerSchema = z
  .object({
    id: z.string().openapi({ example: "build-7:4121:9f2c1a0b" }),
    hostname: z.string(),
    pid: z.number().int(),
    queues: z.array(z.string()).openapi({ example: ["default", "heavy"] }),
    concurrency: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Runs it executes at once (null: registered by an older Outlast)." }),
    slots: z.object({
      in_use: z.number().int().nullable(),
      free: z.number().int().nullable(),
    }),
    started_at: z.string(),
    last_heartbeat_at: z
      .string()
      .openapi({ description: "The slots are as of this heartbeat (every 2 s by default)." }),
    lease_expires_at: z
      .string()
      .openapi({ description: "Without a heartbeat by then, peers declare it dead." }),
  })
  .openapi("Worker");

const WorkersOverview = z
  .object({
    workers: z.array(WorkerSchema),
    queues: z.array(
      z.object({
        name: z.string(),
        workers: z.number().int().openapi({ description: "Live workers serving it." }),
        free_slots: z.number().int(),
      }),
    ),
  })
  .openapi("Workers");

const listWorkers = createRoute({
  method: "get",
  path: "/v1/workers",
  tags: ["workers"],
  summary: "Live workers, their queues and slots",
  description:
    "Is anything executing my runs? Every worker whose lease is live, the queues it serves, its slots in use and free as of its last heartbeat, and per known queue how many workers serve it: a queue with none keeps its runs queued until a worker starts.",
  request: { query: NoQuery },
  responses: { 200: json(WorkersOverview, "Workers now."), ...errors(400, 401, 503) },
});

function iso(d: Date | string): string {
  return new Date(d).toISOString();
}

function toWorker(w: WorkerRow): z.infer<typeof WorkerSchema> {
  const inUse = w.slots_in_use;
  return {
    id: w.id,
    hostname: w.hostname,
    pid: w.pid,
    queues: w.queues,
    concurrency: w.concurrency,
    slots: {
      in_use: inUse,
      free: w.concurrency === null || inUse === null ? null : Math.max(0, w.concurrency - inUse),
    },
    started_at: iso(w.started_at),
    last_heartbeat_at: iso(w.heartbeat_at),
    lease_expires_at: iso(w.expires_at),
  };
}

/** `GET /v1/workers`: reads the worker registry the heartbeats keep (src/engine/liveness.ts). */
export function registerWorkerRoutes(app: OpenAPIHono, service: RunService): void {
  const registry = new WorkerRegistry(service.db);
  app.openapi(listWorkers, async (c) => {
    const workers = (await registry.listWorkers()).map(toWorker);
    const names = [...new Set([...service.queueNames(), ...workers.flatMap((w) => w.queues)])];
    const queues = names.map((name) => {
      const serving = workers.filter((w) => w.queues.includes(name));
      return {
        name,
        workers: serving.length,
        free_slots: serving.reduce((n, w) => n + (w.slots.free ?? 0), 0),
      };
    });
    return c.json({ workers, queues }, 200);
  });
}
