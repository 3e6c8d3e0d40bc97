import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG_FILE, loadConfigFile, type ResolvedConfig } from "../config/load.js";

/** The example config shipped with the package: what `outlast dev` serves with no config. */
export const EXAMPLES_CONFIG = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../examples/outlast.config.ts",
);

/**
 * `--config` when given; else ./outlast.config.ts when it exists; else (only where
 * `allowExamples`) the bundled examples.
 */
export async function loadCliConfig(
  path: string | undefined,
  allowExamples: boolean,
): Promise<ResolvedConfig> {
  if (path) return loadConfigFile(path);
  if (existsSync(DEFAULT_CONFIG_FILE)) return loadConfigFile(DEFAULT_CONFIG_FILE);
  if (allowExamples) return loadConfigFile(EXAMPLES_CONFIG);
  return loadConfigFile(DEFAULT_CONFIG_FILE);
}

/**
 * What `outlast dev` changes in a config the file leaves open. Bound to 127.0.0.1 on a
 * developer's machine, webhooks to a local receiver are the point: loopback addresses
 * (127/8, ::1) are allowed unless the config says otherwise, and nothing else private (the
 * office network, the cloud metadata endpoint) is.
 *
 * @example
 * ```ts
 * const config = withDevDefaults(await loadCliConfig(undefined, true));
 * ```
 */
export function withDevDefaults(config: ResolvedConfig): ResolvedConfig {
  const allow = config.webhooks.allowPrivateAddresses ?? "loopback";
  return { ...config, webhooks: { ...config.webhooks, allowPrivateAddresses: allow } };
}
