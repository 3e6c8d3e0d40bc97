/**
 * `outlast/openai-agents`: the OpenAI Agents SDK (`@openai/agents`, an optional peer
 * dependency) on Outlast. `durableAgent(ctx, agent)` inside an Outlast agent makes every
 * model call of `run(…)` a journaled call through the gateway and every function tool a
 * journaled step, handoffs and streaming included; `OutlastModelProvider` serves the
 * gateway's models to any Runner (over HTTP outside an agent). Importing `outlast` itself
 * never loads the SDK.
 *
 * @example
 * ```ts
 * import { run } from "@openai/agents";
 * import { durableAgent } from "outlast/openai-agents";
 *
 * export const support = defineAgent({
 *   name: "support",
 *   run: async (ctx, { question }: { question: string }) => {
 *     const result = await run(durableAgent(ctx, triage), question);
 *     return { answer: result.finalOutput };
 *   },
 * });
 * ```
 */
export { GatewayHttpError, type GatewayHttpOptions } from "../chat/http.js";
export { type DurableAgentOptions, durableAgent } from "./durable.js";
export { OutlastModelProvider, type OutlastModelProviderOptions } from "./provider.js";
