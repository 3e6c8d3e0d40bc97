import { defineConfig } from "outlast";
import { hello } from "./agents/hello.js";
import { release } from "./agents/release.js";
import { research } from "./agents/research.js";

/**
 * The config `outlast dev` uses when there is no ./outlast.config.ts. With no providers
 * configured, `dev` starts the simulated provider and routes the `fast` and `smart` aliases
 * to it, so the quick start needs no API key. To use OpenAI instead:
 *
 *   providers: { openai: { baseUrl: "https://api.openai.com/v1", apiKey: process.env.OPENAI_API_KEY } },
 *   models: { fast: "openai/gpt-4o-mini", smart: "openai/gpt-4o" },
 */
export default defineConfig({
  agents: [hello, research, release],
  queues: { default: {}, heavy: { concurrency: 2 } },
});
