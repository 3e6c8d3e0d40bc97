import { generateText, jsonSchema, stepCountIs, tool } from "ai";
import { defineAgent } from "outlast";
import { durableTools, outlast } from "outlast/ai-sdk";
import { z } from "zod";

/**
 * An agent written with the Vercel AI SDK, made durable without changing how it is
 * written: `outlast("fast", { ctx })` makes every model call a journaled call through the
 * gateway, `durableTools` makes every tool call a journaled step. Kill the worker between
 * two steps of the loop and another worker goes on from there, without asking the model
 * again or repeating a tool call.
 */
const getWeather = tool({
  description: "The weather in a city today",
  inputSchema: jsonSchema<{ city: string }>({
    type: "object",
    properties: { city: { type: "string" } },
    required: ["city"],
  }),
  // A real agent would call a weather API here (with the step's idempotency key if it
  // changes anything); its answer is journaled.
  execute: async ({ city }) => ({ city, sky: "sunny", celsius: 21 }),
});

export const forecastAiSdk = defineAgent({
  name: "forecast-ai-sdk",
  description: "Answers a weather question with the Vercel AI SDK and one tool.",
  input: z.object({ city: z.string().min(1).max(100) }),
  run: async (ctx, { city }) => {
    const result = await generateText({
      model: outlast("fast", { ctx }),
      tools: durableTools(ctx, { getWeather }),
      stopWhen: stepCountIs(5),
      prompt: `What is the weather in ${city}?`,
    });
    return { answer: result.text, steps: result.steps.length, tokens: result.totalUsage };
  },
});
