import { createApi } from "../api/app.js";
import { startApiServer } from "../api/server.js";
import type { ResolvedConfig } from "../config/load.js";
import { RunService } from "../engine/run-service.js";
import { Worker } from "../engine/worker.js";
import { ProviderRouter } from "../llm/router.js";
import { type Simulator, startSimulator } from "../sim/index.js";
import type { Db } from "../store/db.js";
import { openStore } from "../store/open.js";
import type { Logger } from "../util/log.js";

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
  const stops: (() => Promise<void>)[] = [];
  let sim: Simulator | undefined;
  try {
    const providers = Object.entries(config.providers).map(([name, p]) => ({
      name,
      baseUrl: p.baseUrl,
      apiKey: p.apiKey,
      headers: p.headers,
      timeoutMs: p.timeoutMs,
    }));
    const aliases = { ...config.models };
    if (opts.simulator && providers.length === 0) {
      sim = await startSimulator({ port: 0, defaults: { latencyMs: [20, 80] } });
      stops.unshift(() => sim!.close());
      providers.push({
        name: "sim",
        baseUrl: `${sim.url}/v1`,
        apiKey: "sim-key",
        headers: {},
        timeoutMs: 60_000,
      });
      aliases.fast ??= "sim/gpt-4o-mini";
      aliases.smart ??= "sim/gpt-4o";
    }
    const db = await openStore({
      databaseUrl: config.database.url,
      dataDir: config.database.dataDir,
      poolSize: config.database.poolSize,
    });
    stops.unshift(() => db.close());
    const queues = knownQueues(config);
    const service = new RunService(db, config.agents, queues);
    await service.start();
    stops.unshift(() => service.stop());

    let worker: Worker | undefined;
    if (opts.worker) {
      const queueLimits = Object.fromEntries(
        Object.entries(config.queues).flatMap(([q, c]) =>
          c.concurrency ? [[q, c.concurrency]] : [],
        ),
      );
      worker = new Worker({
        db,
        agents: config.agents,
        queues: opts.worker.queues ?? config.worker.queues ?? queues,
        queueLimits,
        concurrency: opts.worker.concurrency ?? config.worker.concurrency,
        pollIntervalMs: config.worker.pollIntervalMs,
        heartbeatIntervalMs: config.worker.heartbeatIntervalMs,
        leaseTtlMs: config.worker.leaseTtlMs,
        reapIntervalMs: config.worker.reapIntervalMs,
        llm: new ProviderRouter(providers, aliases),
        log,
      });
      await worker.start();
    }

    let apiUrl: string | undefined;
    if (opts.api) {
      const app = createApi({
        service,
        apiKey: opts.api.apiKey,
        bodyLimitBytes: config.api.bodyLimitBytes,
      });
      const server = await startApiServer(app, { port: opts.api.port, hostname: opts.api.host });
      stops.unshift(() => server.close());
      apiUrl = server.url;
    }

    return {
      db,
      service,
      worker,
      apiUrl,
      simulatorUrl: sim?.url,
      async stop(graceMs = config.worker.shutdownGraceMs) {
        // The API stops taking requests first, then the worker drains, then the store closes.
        const [first, ...rest] = stops;
        if (opts.api && first) await first();
        if (worker) await worker.stop(graceMs);
        for (const s of opts.api ? rest : stops)
          await s().catch((err) => log.warn("shutdown step failed", { error: String(err) }));
      },
    };
  } catch (err) {
    for (const s of stops) await s().catch(() => {});
    throw err;
  }
}
