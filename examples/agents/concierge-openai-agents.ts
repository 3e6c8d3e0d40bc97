import { Agent, run, setTracingDisabled, tool } from "@openai/agents";
import { defineAgent } from "outlast";
import { durableAgent } from "outlast/openai-agents";
import { z } from "zod";

/**
 * An agent written with the OpenAI Agents SDK: a triage agent hands off to a weather desk,
 * which calls a tool. `durableAgent(ctx, triage)` journals every model call (through the
 * gateway) and every function tool of both agents, so `run()` survives a crash without
 * repeating either.
 */

// Traces would go to OpenAI's platform; the example runs on the simulated provider.
setTracingDisabled(true);

const getWeather = tool({
  name: "get_weather",
  description: "The weather in a city today",
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `${city}: sunny, 21 °C`,
});

const weatherDesk = new Agent({
  name: "weather_desk",
  instructions: "Answer weather questions with get_weather.",
  model: "fast",
  tools: [getWeather],
});

const triage = new Agent({
  name: "triage",
  instructions: "Hand weather questions to the weather desk.",
  model: "fast",
  handoffs: [weatherDesk],
});

export const conciergeOpenAiAgents = defineAgent({
  name: "concierge-openai-agents",
  description: "Answers a question with the OpenAI Agents SDK: a handoff, then a tool.",
  input: z.object({ question: z.string().min(1).max(2_000) }),
  run: async (ctx, { question }) => {
    const result = await run(durableAgent(ctx, triage), question);
    return { answer: result.finalOutput, answeredBy: result.lastAgent?.name };
  },
});
