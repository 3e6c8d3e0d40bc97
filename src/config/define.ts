import type { AnyAgent } from "../engine/agent.js";
import type { OutlastConfigInput } from "./schema.js";

export type ConfigInput = Omit<OutlastConfigInput, "agents"> & { agents?: AnyAgent[] };

/**
 * Declares an Outlast configuration: the default export of `outlast.config.ts`. Every CLI
 * command loads it (`--config` to pick another file). Read secrets and URLs from the
 * environment here; the config is validated at start and a bad field is named.
 *
 * @example
 * ```ts
 * import { defineConfig } from "outlast";
 * import { research } from "./agents/research.js";
 *
 * export default defineConfig({
 *   agents: [research],
 *   queues: { heavy: { concurrency: 2 } },
 *   providers: { openai: { baseUrl: "https://api.openai.com/v1", apiKey: process.env.OPENAI_API_KEY } },
 *   models: { fast: "openai/gpt-4o-mini", smart: "openai/gpt-4o" },
 *   fairness: { tenants: { acme: 3 } }, // runs tagged { tenant: "acme" } weigh 3, others 1
 * });
 * ```
 */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}
