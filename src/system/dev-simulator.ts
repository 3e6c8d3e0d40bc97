/**
 * The simulated provider `outlast dev` starts when the config names no provider: the
 * `fast`, `smart` and `embed` aliases point at it, `config.simulator.replies` scripts what
 * each model answers (docs/simulator.md), and the gateway routes only these models to it,
 * so an unknown model name gets the same 404 as in production.
 */
import type { z } from "zod";
import type { ResolvedConfig } from "../config/load.js";
import type { providerSchema, SimReplyScript } from "../config/schema.js";
import { type SimModelConfig, type Simulator, startSimulator } from "../sim/index.js";
import type { Logger } from "../util/log.js";

/** The aliases `outlast dev` adds, and the simulated model each names. */
export const DEV_ALIASES: Readonly<Record<string, string>> = {
  fast: "gpt-4o-mini",
  smart: "gpt-4o",
  embed: "text-embedding-3-small",
};

const PROVIDER = "sim";

export interface DevSimulator {
  sim: Simulator;
  provider: z.input<typeof providerSchema>;
  /** Aliases to add where the config has none of its own. */
  aliases: Record<string, string>;
}

/**
 * Starts the simulator with a model per alias and per scripted name.
 *
 * @example
 * const dev = await startDevSimulator(config, log);
 * providers.sim = dev.provider;
 */
export async function startDevSimulator(
  config: Pick<ResolvedConfig, "models" | "gateway" | "simulator">,
  log: Logger,
): Promise<DevSimulator> {
  const aliases: Record<string, string> = {};
  for (const [alias, model] of Object.entries(DEV_ALIASES)) {
    aliases[alias] = config.models[alias] ?? `${PROVIDER}/${model}`;
  }
  const scripts = new Map<string, SimReplyScript>();
  for (const [name, script] of Object.entries(config.simulator.replies)) {
    const target = aliases[name] ?? config.models[name];
    const model = target?.startsWith(`${PROVIDER}/`) ? target.slice(PROVIDER.length + 1) : name;
    if (target !== undefined && !target.startsWith(`${PROVIDER}/`)) {
      log.warn("simulator.replies: the alias does not route to the simulator; script unused", {
        alias: name,
        target,
      });
    }
    scripts.set(model, script);
  }
  const names = new Set<string>([...Object.values(DEV_ALIASES), ...scripts.keys()]);
  // Models the config routes to the simulator by name are served too.
  const named = [
    ...Object.values(config.models),
    ...Object.values(config.gateway.aliases).flatMap((a) => a.targets),
  ];
  for (const target of named) {
    if (target.startsWith(`${PROVIDER}/`)) names.add(target.slice(PROVIDER.length + 1));
  }
  const models: SimModelConfig[] = [...names].map((name) => {
    const script = scripts.get(name);
    return {
      name,
      ...(script === undefined
        ? {}
        : { reply: typeof script === "function" ? script : () => script }),
    };
  });
  const sim = await startSimulator({
    port: 0,
    models,
    defaults: { latencyMs: config.simulator.latencyMs },
  });
  return {
    sim,
    aliases,
    provider: {
      type: "openai",
      baseUrl: `${sim.url}/v1`,
      apiKey: "sim-key",
      timeoutMs: 60_000,
      models: [...names],
    },
  };
}
