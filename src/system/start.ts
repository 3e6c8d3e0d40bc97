import type { z } from "zod";
import { createApi } from "../api/app.js";
import { startApiServer } from "../api/server.js";
import { ConfigError, type ResolvedConfig } from "../config/load.js";
import type { providerSchema } from "../config/schema.js";
import { RunService } from "../engine/run-service.js";
import { Worker } from "../engine/worker.js";
import { createGateway, type Gateway, mountGateway } from "../gateway/index.js";
import { QuotaService } from "../quota/admission.js";
import { Fairness, tenantOf } from "../quota/fairness.js";
import { type Simulator, startSimulator } from "../sim/index.js";
import type { Db } from "../store/db.js";
import { openStore } from "../store/open.js";
import type { Logger } from "../util/log.js";
import { startDeliverer } from "../webhooks/deliverer.js";

export interface SystemOptions {
  config: ResolvedConfig;
  log: Logger;
  /** Run the HTTP API. */
  api?: { port: number; host: string; apiKey: string | undefined } | undefined;
  /** Run a worker. */
  worker?: { queues?: string[] | undefined; concurrency?: number | undefined } | undefined;
  /** Start the simulated provider and route `fast`/`smart` to it when no provider is configured. */
  simulator?: boolean;
}

export interface RunningSystem {
  db: Db;
  service: RunService;
  gateway: Gateway;
  worker: Worker | undefined;
  apiUrl: string | undefined;
  simulatorUrl: string | undefined;
  stop(graceMs?: number): Promise<void>;
}

/** Queues the deployment knows: configured ones plus every agent's. */
export function knownQueues(config: ResolvedConfig): string[] {
  return [
    ...new Set([...Object.keys(config.queues), ...config.agents.map((a) => a.queue ?? "default")]),
  ];
}

/**
 * Composes the parts a process runs — store, run service, HTTP API, worker, simulator —
 * from one validated config. `outlast dev` runs all of them; `serve` the API; `worker` the
 * worker.
 */
export async function startSystem(opts: SystemOptions): Promise<RunningSystem> {
  const { config, log } = opts;
  // Parts stop in the reverse order they started: API, worker (drains), run service,
  // store, simulator.
  const stack: (() => Promise<void>)[] = [];
  let graceMs = config.worker.shutdownGraceMs;
  const unwind = async (): Promise<void> => {
    for (const stop of stack.splice(0).reverse()) {
      await stop().catch((err) => log.warn("shutdown step failed", { error: String(err) }));
    }
  };
  try {
    const providers: Record<string, z.input<typeof providerSchema>> = { ...config.providers };
    const aliases = { ...config.models };
    let sim: Simulator | undefined;
    if (opts.simulator && Object.keys(providers).length === 0) {
      const started = await startSimulator({ port: 0, defaults: { latencyMs: [20, 80] } });
      sim = started;
      stack.push(() => started.close());
      providers.sim = {
        type: "openai",
        baseUrl: `${started.url}/v1`,
        apiKey: "sim-key",
        timeoutMs: 60_000,
      };
      aliases.fast ??= "sim/gpt-4o-mini";
      aliases.smart ??= "sim/gpt-4o";
    }
    const db = await openStore({
      databaseUrl: config.database.url,
      dataDir: config.database.dataDir,
      poolSize: config.database.poolSize,
    });
    stack.push(() => db.close());
    // Every LLM call goes through the gateway: ctx.llm in-process, SDKs over HTTP.
    const gateway = createGateway({
      db,
      config: { providers, models: aliases, gateway: config.gateway },
      log: log.child({ component: "gateway" }),
    });
    await gateway.start();
    stack.push(() => gateway.close());
    const fairness = config.fairness ? new Fairness(config.fairness) : undefined;
    const quota = new QuotaService(db, gateway, undefined, fairness);
    const queues = knownQueues(config);
    const service = new RunService(db, config.agents, queues);
    service.quota = quota;
    await service.start();
    stack.push(() => service.stop());

    let worker: Worker | undefined;
    if (opts.worker) {
      const queueLimits = Object.fromEntries(
        Object.entries(config.queues).flatMap(([q, c]) =>
          c.concurrency ? [[q, c.concurrency]] : [],
        ),
      );
      const w = new Worker({
        db,
        agents: config.agents,
        queues: opts.worker.queues ?? config.worker.queues ?? queues,
        queueLimits,
        concurrency: opts.worker.concurrency ?? config.worker.concurrency,
        pollIntervalMs: config.worker.pollIntervalMs,
        heartbeatIntervalMs: config.worker.heartbeatIntervalMs,
        leaseTtlMs: config.worker.leaseTtlMs,
        reapIntervalMs: config.worker.reapIntervalMs,
        llm: gateway,
        admission: (agent, run) => quota.check(agent, { tenant: tenantOf(run.tags) }),
        fairness: config.fairness,
        log,
      });
      await w.start();
      worker = w;
      stack.push(() => w.stop(graceMs));
      // Webhook and notifier deliveries go out from the worker processes' outbox.
      const deliverer = await startDeliverer({ db, config, log });
      stack.push(() => deliverer.stop());
    }

    let apiUrl: string | undefined;
    if (opts.api) {
      const shutdown = new AbortController();
      const app = createApi({
        service,
        apiKey: opts.api.apiKey,
        bodyLimitBytes: config.api.bodyLimitBytes,
        log,
        extraRoutes: (a) => mountGateway(a, gateway),
        quota,
        webhooks: config.webhooks,
        shutdown: shutdown.signal,
      });
      const server = await startApiServer(app, {
        port: opts.api.port,
        hostname: opts.api.host,
      }).catch((err) => {
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
          throw new ConfigError(
            `port ${opts.api?.port} on ${opts.api?.host} is in use; pass --port or set OUTLAST_PORT`,
          );
        }
        throw err;
      });
      stack.push(() => server.close());
      // Unwinds first: open event streams end, then the server closes.
      stack.push(async () => shutdown.abort());
      apiUrl = server.url;
    }

    return {
      db,
      service,
      gateway,
      worker,
      apiUrl,
      simulatorUrl: sim?.url,
      async stop(grace = config.worker.shutdownGraceMs) {
        graceMs = grace;
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
