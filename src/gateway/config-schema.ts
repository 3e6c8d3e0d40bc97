/**
 * The gateway's part of the config schema (providers, model aliases, `gateway`): owned
 * here, composed into the whole config by src/config/schema.ts.
 */
import { z } from "zod";

const positiveInt = z.number().int().positive();

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

/** The gateway's keys of the config: `providers`, `models` and `gateway`. */
export const gatewayConfigShape = {
  /** LLM providers `ctx.llm` can call, by name. */
  providers: z.record(z.string(), providerSchema).default({}),
  /** Model aliases: `fast: "openai/gpt-4o-mini"`. Lists with failover: `gateway.aliases`. */
  models: z.record(z.string(), z.string()).default({}),
  gateway: gatewaySchema,
};

export const gatewayConfigSchema = z.object(gatewayConfigShape);
