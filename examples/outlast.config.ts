import { defineConfig } from "outlast";
import { conciergeOpenAiAgents } from "./agents/concierge-openai-agents.js";
import { forecastAiSdk } from "./agents/forecast-ai-sdk.js";
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
  agents: [hello, research, release, forecastAiSdk, conciergeOpenAiAgents],
  queues: { default: {}, heavy: { concurrency: 2 } },
  simulator: {
    replies: {
      // How the simulated `fast` model plays the SDK examples: hand off to the weather
      // desk, call the weather tool once, answer with its result. Anything else gets the
      // default reply (docs/simulator.md).
      fast: (req) => {
        if (req.tools.includes("transfer_to_weather_desk")) {
          return { toolCalls: [{ name: "transfer_to_weather_desk", arguments: {} }] };
        }
        const city = /in ([A-Z][\w-]*)/.exec(req.lastUserText)?.[1] ?? "Paris";
        // The AI SDK example's tool, and the Agents SDK's (after the handoff's own result).
        if (req.tools.includes("getWeather") && req.toolResults === 0) {
          return { toolCalls: [{ name: "getWeather", arguments: { city } }] };
        }
        if (req.tools.includes("get_weather") && req.toolResults === 1) {
          return { toolCalls: [{ name: "get_weather", arguments: { city } }] };
        }
        const last = req.messages.at(-1) as { role?: string; content?: unknown } | undefined;
        if (last?.role === "tool") return { text: `Here is the forecast: ${String(last.content)}` };
        return {};
      },
    },
  },
});
