import type { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "zod";
import { createApi } from "../api/app.js";
import { type ApiServer, startApiServer } from "../api/server.js";
import { CredentialStore } from "../auth/credentials.js";
import { syncConfigKeys } from "../auth/keys.js";
import { ConfigError, type ResolvedConfig } from "../config/load.js";
import type { providerSchema } from "../config/schema.js";
import { RunService } from "../engine/run-service.js";
import { Worker } from "../engine/worker.js";
import {
  createGateway,
  type FastListener,
  GATEWAY_BODY_LIMIT_BYTES,
  type Gateway,
  GatewayHttp,
  gatewayFastPath,
  mountGateway,
} from "../gateway/index.js";
import { createMetrics, type Metrics } from "../metrics/index.js";
import { QuotaService } from "../quota/admission.js";
import { Fairness, tenantOf } from "../quota/fairness.js";
import { startPruner } from "../retention/pruner.js";
import type { Simulator } from "../sim/index.js";
import type { Db } from "../store/db.js";
import { openStore } from "../store/open.js";
import { startTracing } from "../tracing/index.js";
import type { Role } from "../types/index.js";
import type { Logger } from "../util/log.js";
import { startDeliverer } from "../webhooks/deliverer.js";
import { guardConfigSecrets } from "./config-secrets.js";
import { startDevSimulator } from "./dev-simulator.js";

export interface SystemOptions {
  config: ResolvedConfig;
  log: Logger;
  /**
   * Run the HTTP API. `apiKey` is the bootstrap admin key; `auth: false` (`serve
   * --no-auth`) serves without any credential check.
   */
  api?:
    | { port: number; host: string; apiKey: string | undefined; auth?: boolean | undefined }
    | undefined;
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

export interface HttpApiOptions {
  service: RunService;
  gateway: Gateway;
  quota?: QuotaService | undefined;
  config: Pick<ResolvedConfig, "api" | "webhooks">;
  log: Logger;
  /** The credentials the API and the gateway accept (started by the caller). */
  credentials?: CredentialStore | undefined;
  /** Without `credentials`: the one bootstrap key. */
  apiKey?: string | undefined;
  port: number;
  host: string;
  /** Aborted on shutdown: ends open event streams. */
  shutdown?: AbortSignal | undefined;
  /** Serves GET /metrics when set. */
  metrics?: Metrics | undefined;
}

/**
 * The HTTP API with the gateway's routes on one port. The model endpoints are answered
 * by the gateway's node:http fast path, in front of Hono, with the same handlers, key and
 * body limit as the Hono routes it stands in for (see src/gateway/ARCHITECTURE.md).
 *
 * @example
 * const server = await startHttpApi({ service, gateway, config, log, apiKey, port: 0, host: "127.0.0.1" });
 */
export async function startHttpApi(o: HttpApiOptions): Promise<ApiServer> {
  const { app, fastPath } = buildHttpApi(o);
  return startApiServer(app, { port: o.port, hostname: o.host, fastPath, log: o.log }).catch(
    (err) => {
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new ConfigError(
          `port ${o.port} on ${o.host} is in use; pass --port or set OUTLAST_PORT`,
        );
      }
      throw err;
    },
  );
}

/**
 * The Hono app (API and gateway routes) and the gateway's node:http fast path in front of
 * it, not yet listening: what `startHttpApi` serves.
 */
export function buildHttpApi(o: Omit<HttpApiOptions, "port" | "host">): {
  app: OpenAPIHono;
  fastPath: FastListener;
} {
  const http = new GatewayHttp(o.gateway, o.credentials);
  const rateLimits = o.config.api.rateLimits;
  const app = createApi({
    service: o.service,
    credentials: o.credentials,
    apiKey: o.credentials ? undefined : o.apiKey,
    rateLimits,
    bodyLimitBytes: o.config.api.bodyLimitBytes,
    extraBodyLimitBytes: GATEWAY_BODY_LIMIT_BYTES,
    log: o.log,
    extraRoutes: (a) => mountGateway(a, o.gateway, http),
    quota: o.quota,
    webhooks: o.config.webhooks,
    shutdown: o.shutdown,
    metrics: o.metrics,
  });
  const fastPath = gatewayFastPath(http, {
    apiKey: o.credentials ? undefined : o.apiKey,
    bodyLimitBytes: GATEWAY_BODY_LIMIT_BYTES,
    limitedRoles: new Set(
      (Object.keys(rateLimits ?? {}) as Role[]).filter((r) => rateLimits?.[r] !== undefined),
    ),
  });
  return { app, fastPath };
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
  guardConfigSecrets(config, log);
  try {
    // OTLP traces when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; else the SDK is never
    // loaded. Stopped last, so that spans of runs the worker finishes while draining go out.
    const tracing = await startTracing();
    if (tracing) {
      stack.push(() => tracing.shutdown());
      log.info("tracing: spans go to the OTLP endpoint");
    }
    const providers: Record<string, z.input<typeof providerSchema>> = { ...config.providers };
    const aliases = { ...config.models };
    let sim: Simulator | undefined;
    if (opts.simulator && Object.keys(providers).length > 0) {
      if (Object.keys(config.simulator.replies).length > 0) {
        log.warn("simulator.replies unused: providers are configured, so no simulator runs");
      }
    } else if (opts.simulator) {
      const dev = await startDevSimulator(config, log);
      sim = dev.sim;
      stack.push(() => dev.sim.close());
      providers.sim = dev.provider;
      Object.assign(aliases, dev.aliases);
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
      tracing,
    });
    await gateway.start();
    stack.push(() => gateway.close());
    const fairness = config.fairness ? new Fairness(config.fairness) : undefined;
    const quota = new QuotaService(db, gateway, undefined, fairness);
    const queues = knownQueues(config);
    const service = new RunService(db, config.agents, queues, quota, tracing);
    const metrics = createMetrics({ db, queues, topN: config.metrics.topN });
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
        admission: (agent, run) =>
          quota.check(agent, {
            project: run.project,
            tenant: tenantOf(run.tags),
            feature: run.tags?.feature,
          }),
        fairness,
        log,
        observer: metrics.observer,
        tracing,
      });
      await w.start();
      worker = w;
      stack.push(() => w.stop(graceMs));
      // Webhook and notifier deliveries go out from the worker processes' outbox.
      const deliverer = await startDeliverer({ db, config, log, tracing });
      stack.push(() => deliverer.stop());
      // Retention: old runs, events, raw usage and deliveries, pruned in small batches.
      const pruner = startPruner({ db, retention: config.retention, log });
      stack.push(() => pruner.stop());
    }

    let apiUrl: string | undefined;
    if (opts.api) {
      // Every credential this API accepts, in memory, following outlast.api_keys.
      let credentials: CredentialStore | undefined;
      if (opts.api.auth !== false) {
        await syncConfigKeys(db, config.gateway.keys);
        const store = new CredentialStore({
          db,
          bootstrap: [opts.api.apiKey, opts.api.apiKey ? config.api.previousApiKey : undefined],
          configKeys: config.gateway.keys,
          log: log.child({ component: "keys" }),
        });
        await store.start();
        stack.push(() => store.close());
        credentials = store;
      }
      const shutdown = new AbortController();
      const server = await startHttpApi({
        service,
        gateway,
        quota,
        config,
        log,
        credentials,
        port: opts.api.port,
        host: opts.api.host,
        shutdown: shutdown.signal,
        metrics,
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
