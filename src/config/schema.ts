import { z } from "zod";

const positiveInt = z.number().int().positive();

const agentShape = z.custom<{ name: string; run: unknown }>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as { name?: unknown }).name === "string" &&
    typeof (v as { run?: unknown }).run === "function",
  { message: "expected an agent made with defineAgent({ name, run })" },
);

export const providerSchema = z.object({
  /** Wire format. `openai` covers OpenAI and every server that speaks its API. */
  type: z.enum(["openai"]).default("openai"),
  baseUrl: z.url({ message: "expected a URL such as https://api.openai.com/v1" }),
  apiKey: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Per-request timeout. */
  timeoutMs: positiveInt.default(120_000),
});

export const configSchema = z.object({
  agents: z.array(agentShape).default([]),
  /** Queues and their global concurrency caps (all workers together). */
  queues: z
    .record(
      z.string().regex(/^[\w.-]{1,64}$/, "queue names use letters, digits, '.', '_' or '-'"),
      z.object({ concurrency: positiveInt.optional() }),
    )
    .default({}),
  /** LLM providers `ctx.llm` can call, by name. */
  providers: z.record(z.string(), providerSchema).default({}),
  /** Model aliases: `fast: "openai/gpt-4o-mini"`. */
  models: z.record(z.string(), z.string()).default({}),
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
  api: z
    .object({
      port: z.number().int().min(0).max(65535).default(7373),
      host: z.string().default("127.0.0.1"),
      /** Bearer key `serve` requires; default from OUTLAST_API_KEY. */
      apiKey: z.string().min(16, "use at least 16 characters").optional(),
      bodyLimitBytes: positiveInt.default(1024 * 1024),
    })
    .prefault({}),
});

export type OutlastConfigInput = z.input<typeof configSchema>;
export type OutlastConfig = z.output<typeof configSchema>;
