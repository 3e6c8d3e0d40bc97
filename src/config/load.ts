import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createJiti } from "jiti";
import { z } from "zod";
import type { AnyAgent } from "../engine/agent.js";
import { configSchema, type OutlastConfig } from "./schema.js";

/** A module of the running copy of the package, by its path under src without extension. */
const packageModule = (path: string) =>
  resolve(
    dirname(fileURLToPath(import.meta.url)),
    `../${path}${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`,
  );

/**
 * The running copy of the package: a config's `import … from "outlast"` (or a subpath)
 * resolves here, not to another copy in the config's node_modules.
 */
const PACKAGE_ALIASES = {
  outlast: packageModule("index"),
  "outlast/client": packageModule("client/index"),
  "outlast/ai-sdk": packageModule("integrations/ai-sdk/index"),
  "outlast/openai-agents": packageModule("integrations/openai-agents/index"),
};

export class ConfigError extends Error {
  readonly code = "OUTLAST_INVALID_CONFIG";
}

export interface ResolvedConfig extends OutlastConfig {
  agents: AnyAgent[];
  /** Absolute path of the file it came from, or "(built-in)". */
  source: string;
}

/**
 * Validates a config object, applying defaults and the environment (DATABASE_URL,
 * OUTLAST_DATA_DIR, OUTLAST_API_KEY, OUTLAST_PORT). The error names each bad field.
 */
export function resolveConfig(raw: unknown, source: string, env = process.env): ResolvedConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  - ${["config", ...i.path.map(String)].join(".")}: ${i.message}`,
    );
    throw new ConfigError(`invalid Outlast config in ${source}:\n${lines.join("\n")}`);
  }
  const cfg = parsed.data;
  const names = new Set<string>();
  for (const a of cfg.agents) {
    if (names.has(a.name))
      throw new ConfigError(
        `invalid Outlast config in ${source}: two agents are named "${a.name}"`,
      );
    names.add(a.name);
  }
  cfg.database.url ??= env.DATABASE_URL || undefined;
  if (env.OUTLAST_DATA_DIR) cfg.database.dataDir = env.OUTLAST_DATA_DIR;
  cfg.api.apiKey ??= env.OUTLAST_API_KEY || undefined;
  cfg.api.previousApiKey ??= env.OUTLAST_API_KEY_PREVIOUS || undefined;
  if (env.OUTLAST_PORT) {
    const port = z.coerce.number().int().min(0).max(65535).safeParse(env.OUTLAST_PORT);
    if (!port.success)
      throw new ConfigError(`OUTLAST_PORT must be a port number, got "${env.OUTLAST_PORT}"`);
    cfg.api.port = port.data;
  }
  if (cfg.api.apiKey !== undefined && cfg.api.apiKey.length < 16) {
    throw new ConfigError("OUTLAST_API_KEY (config.api.apiKey) must be at least 16 characters");
  }
  if (cfg.api.previousApiKey !== undefined && cfg.api.previousApiKey.length < 16) {
    throw new ConfigError(
      "OUTLAST_API_KEY_PREVIOUS (config.api.previousApiKey) must be at least 16 characters",
    );
  }
  return { ...cfg, agents: cfg.agents as AnyAgent[], source };
}

/** Loads `outlast.config.ts` (or .js/.mjs) with TypeScript support, then validates it. */
export async function loadConfigFile(path: string): Promise<ResolvedConfig> {
  const abs = resolve(path);
  if (!existsSync(abs))
    throw new ConfigError(`config file not found: ${abs} (pass --config <file>)`);
  const jiti = createJiti(import.meta.url, {
    alias: PACKAGE_ALIASES,
    moduleCache: false,
  });
  let mod: unknown;
  try {
    mod = await jiti.import(abs, { default: true });
  } catch (err) {
    throw new ConfigError(`could not load ${abs}: ${(err as Error).message}`);
  }
  if (mod === undefined || mod === null) {
    throw new ConfigError(`${abs} has no default export; export default defineConfig({ … })`);
  }
  return resolveConfig(mod, abs);
}

export const DEFAULT_CONFIG_FILE = "outlast.config.ts";
