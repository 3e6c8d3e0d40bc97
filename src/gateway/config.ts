/**
 * The gateway's view of the config: providers, routes (aliases → ordered targets) and
 * settings, validated with the same schema as `outlast.config.ts` so defaults agree.
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import { gatewayConfigSchema } from "./config-schema.js";
import { type LimitSpec, specOf } from "./limiter/dimensions.js";

export type WireFormat = "openai" | "anthropic";

/** What `createGateway` accepts: these three parts of an Outlast config (input form). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type GatewaySettings = GatewayConfig["gateway"];

export interface ProviderEndpoint {
  name: string;
  type: WireFormat;
  /** API root including the version segment, no trailing slash (`…/v1`). */
  baseUrl: string;
  apiKey: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  /** The only model names routed to it, when the config lists them. */
  models?: ReadonlySet<string> | undefined;
}

export interface Target {
  /** `provider/model`: how errors, headers and accounting name it. */
  id: string;
  provider: ProviderEndpoint;
  model: string;
  /** provider × model × API key: the unit the provider meters. */
  limitKey: string;
  limits: LimitSpec;
}

export interface Route {
  /** What the caller asked for. */
  requested: string;
  targets: Target[];
  cacheTtlSeconds: number | undefined;
}

export class ConfigProblem extends Error {
  readonly code = "OUTLAST_INVALID_CONFIG";
}

export function parseGatewayConfig(input: GatewayConfigInput): GatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  - ${["config", ...i.path.map(String)].join(".")}: ${i.message}`,
    );
    throw new ConfigProblem(`invalid gateway config:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** Resolves model names to routes; every target string is checked once, at start. */
export class Router {
  private readonly providers = new Map<string, ProviderEndpoint>();
  private readonly routes = new Map<string, Route>();

  constructor(private readonly config: GatewayConfig) {
    for (const [name, p] of Object.entries(config.providers)) {
      let baseUrl = p.baseUrl.replace(/\/+$/, "");
      // Anthropic's documented base is the bare host; its API lives under /v1.
      if (p.type === "anthropic" && !/\/v\d+$/.test(baseUrl)) baseUrl += "/v1";
      this.providers.set(name, {
        name,
        type: p.type,
        baseUrl,
        apiKey: p.apiKey,
        headers: p.headers ?? {},
        timeoutMs: p.timeoutMs,
        models: p.models ? new Set(p.models) : undefined,
      });
    }
    for (const [alias, a] of Object.entries(config.gateway.aliases)) {
      this.routes.set(alias, {
        requested: alias,
        targets: a.targets.map((t) => this.mustTarget(t, `gateway.aliases.${alias}`)),
        cacheTtlSeconds: a.cache?.ttlSeconds,
      });
    }
    for (const [alias, t] of Object.entries(config.models)) {
      if (this.routes.has(alias)) continue;
      this.routes.set(alias, {
        requested: alias,
        targets: [this.mustTarget(t, `models.${alias}`)],
        cacheTtlSeconds: undefined,
      });
    }
  }

  /** Aliases first, then `provider/model` or `provider:model`, then a bare model of the only provider. */
  resolve(model: string): Route | undefined {
    const alias = this.routes.get(model);
    if (alias) return alias;
    const target = this.target(model);
    return target ? { requested: model, targets: [target], cacheTtlSeconds: undefined } : undefined;
  }

  /** Names `GET /v1/models` lists: aliases, then every provider/model with limits set. */
  modelNames(): string[] {
    const names = [...this.routes.keys()];
    for (const p of this.providers.values()) {
      for (const m of Object.keys(this.config.providers[p.name]?.limits ?? {})) {
        if (m !== "*") names.push(`${p.name}/${m}`);
      }
    }
    return [...new Set(names)];
  }

  providerNames(): string[] {
    return [...this.providers.keys()];
  }

  private readonly targets = new Map<string, Target | undefined>();

  /** Memoised: resolving hashes the API key, and this runs on every call. */
  private target(spec: string): Target | undefined {
    if (this.targets.has(spec)) return this.targets.get(spec);
    const t = this.findTarget(spec);
    // Bounded: names come from callers, and unknown ones must not grow the map forever.
    if (this.targets.size < 10_000) this.targets.set(spec, t);
    return t;
  }

  private findTarget(spec: string): Target | undefined {
    for (const sep of ["/", ":"]) {
      const i = spec.indexOf(sep);
      if (i <= 0) continue;
      const provider = this.providers.get(spec.slice(0, i));
      if (provider) return this.makeTarget(provider, spec.slice(i + 1));
    }
    if (this.providers.size === 1) {
      const [only] = this.providers.values();
      if (only) return this.makeTarget(only, spec);
    }
    return undefined;
  }

  /** Whether `provider` serves `model` (every name, unless its config lists them). */
  private serves(provider: ProviderEndpoint, model: string): boolean {
    return provider.models === undefined || provider.models.has(model);
  }

  private mustTarget(spec: string, where: string): Target {
    const t = this.target(spec);
    if (!t) {
      throw new ConfigProblem(
        `${where}: "${spec}" names no configured provider; use provider/model with one of: ${this.providerNames().join(", ") || "(no providers configured)"}`,
      );
    }
    return t;
  }

  private makeTarget(provider: ProviderEndpoint, model: string): Target | undefined {
    if (!this.serves(provider, model)) return undefined;
    const limits = this.config.providers[provider.name]?.limits ?? {};
    const keyHash = createHash("sha256")
      .update(provider.apiKey ?? "")
      .digest("hex")
      .slice(0, 12);
    return {
      id: `${provider.name}/${model}`,
      provider,
      model,
      limitKey: `${provider.name}|${model}|${keyHash}`,
      limits: specOf(limits[model] ?? limits["*"]),
    };
  }
}
