import { z } from "zod";
import { gatewayConfigShape } from "../gateway/config-schema.js";
import { metricsSchema } from "../metrics/config-schema.js";
import { retentionSchema } from "../retention/config-schema.js";
import type { SimReply, SimReplyRequest } from "../sim/types.js";
import { notifiersSchema, webhooksSchema } from "../webhooks/config-schema.js";

const positiveInt = z.number().int().positive();

const agentShape = z.custom<{ name: string; run: unknown }>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as { name?: unknown }).name === "string" &&
    typeof (v as { run?: unknown }).run === "function",
  { message: "expected an agent made with defineAgent({ name, run })" },
);

export type SimReplyScript = SimReply | ((request: SimReplyRequest) => SimReply);

const replyScript = z.custom<SimReplyScript>(
  (v) => typeof v === "function" || (typeof v === "object" && v !== null && !Array.isArray(v)),
  {
    message:
      "expected a reply ({ text }, { toolCalls }, { json }, { error }) or a function of the request returning one",
  },
);

/**
 * The simulated provider `outlast dev` starts when no provider is configured
 * (docs/simulator.md).
 */
export const simulatorSchema = z
  .object({
    /** Reply scripts by model: an alias (`fast`, `smart`, `embed`) or a simulated model's name. */
    replies: z.record(z.string(), replyScript).default({}),
    /** Latency of every answer, [min, max] ms. */
    latencyMs: z
      .tuple([z.number().nonnegative(), z.number().nonnegative()])
      .refine(([lo, hi]) => hi >= lo, "expected [min, max] with min <= max")
      .default([20, 80]),
  })
  .strict()
  .prefault({});

const weight = z
  .number()
  .positive("a weight must be more than 0")
  .max(1_000_000, "a weight must be at most 1,000,000");

/**
 * Weighted fairness between tenants (a run's `tags.tenant`; untagged runs are tenant
 * `""`): claims interleave tenants' ready runs by weight, and a full rate share is split
 * among tenants by weight, so one tenant's burst cannot starve the rest. Off without this
 * block. See src/quota/fairness.ts.
 */
export const fairnessSchema = z
  .object({
    /** Weight by tenant; a tenant with weight 3 gets 3 starts for another's 1 while both wait. */
    tenants: z.record(z.string(), weight).default({}),
    /** Weight of tenants not listed. */
    defaultWeight: weight.default(1),
  })
  .strict();

export const configSchema = z.object({
  agents: z.array(agentShape).default([]),
  /** Queues and their global concurrency caps (all workers together). */
  queues: z
    .record(
      z.string().regex(/^[\w.-]{1,64}$/, "queue names use letters, digits, '.', '_' or '-'"),
      z.object({ concurrency: positiveInt.optional() }),
    )
    .default({}),
  ...gatewayConfigShape,
  /** The simulated provider of `outlast dev` (used when no provider is configured). */
  simulator: simulatorSchema,
  database: z
    .object({
      /** PostgreSQL URL; default from DATABASE_URL; without one, embedded PGlite. */
      url: z.string().optional(),
      /** PGlite data folder. */
      dataDir: z.string().default(".outlast/data"),
      poolSize: positiveInt.default(10),
    })
    .prefault({}),
  worker: z
    .object({
      /** Queues a worker serves; default every queue of the configured agents. */
      queues: z.array(z.string()).optional(),
      concurrency: positiveInt.default(10),
      pollIntervalMs: positiveInt.default(1_000),
      heartbeatIntervalMs: positiveInt.default(2_000),
      leaseTtlMs: positiveInt.default(15_000),
      reapIntervalMs: positiveInt.default(500),
      /** How long SIGTERM waits for in-flight runs before giving them back. */
      shutdownGraceMs: z.number().int().nonnegative().default(10_000),
    })
    .prefault({}),
  /** Weighted fairness between tenants; off when absent. */
  fairness: fairnessSchema.optional(),
  webhooks: webhooksSchema,
  notifiers: notifiersSchema,
  /** How long runs, events, raw usage and deliveries are kept (src/retention). */
  retention: retentionSchema,
  /** `GET /metrics` (src/metrics, docs/metrics.md). */
  metrics: metricsSchema,
  api: z
    .object({
      port: z.number().int().min(0).max(65535).default(7373),
      host: z.string().default("127.0.0.1"),
      /** The default project's bootstrap admin key `serve` requires; default from OUTLAST_API_KEY. */
      apiKey: z.string().min(16, "use at least 16 characters").optional(),
      /**
       * The bootstrap key being rotated out, accepted as well while clients move to the new
       * one; default from OUTLAST_API_KEY_PREVIOUS (docs/security.md).
       */
      previousApiKey: z.string().min(16, "use at least 16 characters").optional(),
      bodyLimitBytes: positiveInt.default(1024 * 1024),
      /**
       * Requests a minute per key, by the key's role, counted in the limiter store (shared
       * by every API process on PostgreSQL); 429 with Retry-After past it. Off by default.
       */
      rateLimits: z
        .strictObject({
          admin: z.strictObject({ rpm: positiveInt }).optional(),
          submit: z.strictObject({ rpm: positiveInt }).optional(),
          read: z.strictObject({ rpm: positiveInt }).optional(),
        })
        .optional(),
    })
    .prefault({}),
});

export { providerSchema } from "../gateway/config-schema.js";
export { notifiersSchema, webhooksSchema };

export type OutlastConfigInput = z.input<typeof configSchema>;
export type OutlastConfig = z.output<typeof configSchema>;
