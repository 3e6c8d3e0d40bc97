import { z } from "zod";
import { parseDuration } from "../engine/duration.js";
import { EVENT_FILTER_RE } from "../events/types.js";
import type { SimReply, SimReplyRequest } from "../sim/types.js";

const positiveInt = z.number().int().positive();

const agentShape = z.custom<{ name: string; run: unknown }>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    typeof (v as { name?: unknown }).name === "string" &&
    typeof (v as { run?: unknown }).run === "function",
  { message: "expected an agent made with defineAgent({ name, run })" },
);

/**
 * A provider's limits for one model and API key, as the provider enforces them. The
 * gateway keeps every process inside them together (see src/gateway/ARCHITECTURE.md).
 */
export const limitsSchema = z
  .object({
    /** Requests per minute. */
    rpm: positiveInt,
    /** Tokens (input + output) per minute. */
    tpm: positiveInt,
    /** Input tokens per minute (Anthropic's split). */
    itpm: positiveInt,
    /** Output tokens per minute (Anthropic's split). */
    otpm: positiveInt,
    /** Tokens (input + output) per day. */
    tpd: positiveInt,
    /** Requests in flight at once. */
    concurrency: positiveInt,
  })
  .partial()
  .strict();

export const providerSchema = z.object({
  /** Wire format. `openai` covers OpenAI and every server that speaks its API. */
  type: z.enum(["openai", "anthropic"]).default("openai"),
  baseUrl: z.url({ message: "expected a URL such as https://api.openai.com/v1" }),
  apiKey: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Per-request timeout. */
  timeoutMs: positiveInt.default(120_000),
  /** Limits by model name; `"*"` applies to models not listed. */
  limits: z.record(z.string(), limitsSchema).default({}),
  /**
   * The models this provider serves. When set, no other name is routed to it (the caller
   * gets 404 `OUTLAST_GATEWAY_UNKNOWN_MODEL`); unset, any model name is passed on.
   */
  models: z.array(z.string().min(1)).min(1).optional(),
});

/** A scripted reply of the simulator: fixed, or made from the request (docs/simulator.md). */
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

/** Per million tokens, in USD. */
export const priceSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  /** Input tokens served from the provider's prompt cache; default: the input price. */
  cachedInput: z.number().nonnegative().optional(),
});

/** An alias served by an ordered list of targets (`provider/model` or `provider:model`). */
export const aliasSchema = z.object({
  targets: z.array(z.string().min(1)).min(1, "list at least one target"),
  /** Exact-match response cache for this alias. */
  cache: z.object({ ttlSeconds: positiveInt }).optional(),
});

export const gatewaySchema = z
  .object({
    /** Aliases with failover: `smart: { targets: ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"] }`. */
    aliases: z.record(z.string(), aliasSchema).default({}),
    /** How long an HTTP caller waits for quota before a 429 (`x-outlast-wait` overrides). */
    maxWaitMs: z.number().int().nonnegative().default(60_000),
    /** `ctx.llm` waits in-process up to this long; a longer wait parks the run as throttled. */
    llmMaxWaitMs: z.number().int().nonnegative().default(5_000),
    /** Extra rounds over an alias's targets after every target failed once. */
    retries: z.number().int().nonnegative().default(2),
    breaker: z
      .object({
        /** Consecutive failures (5xx, timeouts, network) that open a target's breaker. */
        failures: positiveInt.default(5),
        /** How long an open breaker skips its target before one probe may pass. */
        cooldownMs: positiveInt.default(30_000),
      })
      .prefault({}),
    cache: z.object({ defaultTtlSeconds: positiveInt.default(3_600) }).prefault({}),
    /** Prices by model name (longest prefix wins) over the built-in table. */
    pricing: z.record(z.string(), priceSchema).default({}),
    /**
     * Caps of your own on top of the providers' limits, by the call's project, feature
     * and tenant (from the gateway key, the `x-outlast-*` headers or `ctx.llm`'s options),
     * shared by every process: `tenant: { "*": { tpm: 20_000 }, acme: { tpm: 100_000 } }`.
     * `"*"` gives each name without an entry of its own a bucket of its own with these caps.
     */
    caps: z
      .object({
        project: z.record(z.string(), limitsSchema).default({}),
        feature: z.record(z.string(), limitsSchema).default({}),
        tenant: z.record(z.string(), limitsSchema).default({}),
      })
      .strict()
      .prefault({}),
    /** Gateway API keys and whom their calls are attributed to. Empty: no key required. */
    keys: z
      .record(
        z.string().min(16, "use at least 16 characters"),
        z.object({
          project: z.string().default("default"),
          feature: z.string().optional(),
          tenant: z.string().optional(),
        }),
      )
      .default({}),
  })
  .prefault({});

/** Events a notifier or per-run webhook gets by default: the end of a run. */
const terminalEvents = ["run.succeeded", "run.failed", "run.cancelled"];
const eventPattern = z
  .string()
  .regex(EVENT_FILTER_RE, 'expected an event type such as "run.failed", or "run.*", "step.*", "*"');

/** Webhook delivery (src/webhooks): signing, SSRF guard, retries. */
export const webhooksSchema = z
  .object({
    /**
     * Deliver to private, loopback and link-local addresses (127.0.0.1, 10/8, 169.254/16…).
     * Off by default: a webhook URL is anyone's with an API key, and must not reach internal
     * services. `outlast dev`, bound to 127.0.0.1, turns it on unless the config says.
     */
    allowPrivateAddresses: z.boolean().optional(),
    /** `whsec_…` secret that signs per-run webhooks without a secret of their own. Default: generated and kept in the database. */
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/, "expected whsec_ and at least 16 bytes in base64")
      .optional(),
    /** A receiver must answer within this long. */
    timeoutMs: positiveInt.default(10_000),
    /** Attempts per delivery before it is given up (then redeliver by hand). */
    maxAttempts: positiveInt.default(12),
    /** First retry delay; each next one ×3 with ±20% jitter, capped: 5 s … 2 h, ~12 h in all. */
    initialDelayMs: positiveInt.default(5_000),
    maxDelayMs: positiveInt.default(2 * 60 * 60_000),
    /** How long a claimed delivery is this process's before another may try it (a killed deliverer). */
    leaseMs: positiveInt.default(60_000),
    /** Deliveries in flight per process. */
    concurrency: positiveInt.default(16),
    /** Fallback poll for new events and due retries. */
    pollIntervalMs: positiveInt.default(1_000),
  })
  .prefault({});

/** Messages about runs to people: Slack incoming webhooks and email over SMTP. */
export const notifiersSchema = z
  .object({
    /** Base URL of links in messages, e.g. https://outlast.example.com. Default: the API's address. */
    publicUrl: z.url().optional(),
    slack: z
      .object({
        /** A Slack incoming webhook URL (https://hooks.slack.com/services/…). */
        webhookUrl: z.url(),
        events: z.array(eventPattern).min(1).default(terminalEvents),
        /** Only runs of these agents. Default: all. */
        agents: z.array(z.string()).optional(),
      })
      .optional(),
    email: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(587),
        /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
        secure: z.boolean().default(false),
        user: z.string().optional(),
        pass: z.string().optional(),
        from: z.string().min(3),
        to: z.array(z.string().min(3)).min(1),
        events: z.array(eventPattern).min(1).default(terminalEvents),
        agents: z.array(z.string()).optional(),
      })
      .optional(),
  })
  .prefault({});

/** How long data is kept: ms, or "90s", "12h", "30d"; `false` keeps it forever. */
const keepFor = z
  .union([z.number().int().nonnegative(), z.string(), z.literal(false)])
  .transform((v, ctx): number | false => {
    if (v === false) return false;
    try {
      return parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * Retention (src/retention): what a worker process prunes in the background, in small
 * batches. Usage rollups are kept whatever `usage` says.
 */
export const retentionSchema = z
  .object({
    /** Finished runs (succeeded, failed, cancelled) with their steps, events, signals and deliveries, by finish time. */
    runs: keepFor.default(30 * 86_400_000),
    /** Events of runs still kept, by age; never one pending webhook delivery nor a run's latest. */
    events: keepFor.default(7 * 86_400_000),
    /** Raw gateway call rows (`/v1/usage` by run or step needs them); rollups stay. */
    usage: keepFor.default(30 * 86_400_000),
    /** Delivered and failed webhook deliveries with their attempt logs, by last update. */
    deliveries: keepFor.default(7 * 86_400_000),
    /** Pause between pruning passes. */
    intervalMs: positiveInt.default(60_000),
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
  /** LLM providers `ctx.llm` can call, by name. */
  providers: z.record(z.string(), providerSchema).default({}),
  /** Model aliases: `fast: "openai/gpt-4o-mini"`. Lists with failover: `gateway.aliases`. */
  models: z.record(z.string(), z.string()).default({}),
  gateway: gatewaySchema,
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
  retention: retentionSchema,
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
