/**
 * `outlast/ai-sdk`: the Vercel AI SDK (`ai` 6, language-model specification v3) on
 * Outlast. Inside an agent, pass the run's `ctx`: each model call is a journaled `ctx.llm`
 * call through the worker's gateway, and `durableTools` makes each tool's `execute` a
 * journaled step, so `generateText` / `streamText` with tools and a multi-step stop
 * condition survive a crash without paying for a finished model call or repeating a
 * finished tool. Outside an agent the same model calls the gateway over HTTP
 * (`POST /v1/chat/completions`). Needs `ai` (an optional peer dependency); importing
 * `outlast` itself never loads it.
 *
 * @example
 * ```ts
 * import { durableTools, outlast } from "outlast/ai-sdk";
 * import { generateText, stepCountIs } from "ai";
 *
 * export const weather = defineAgent({
 *   name: "weather",
 *   run: async (ctx, { city }: { city: string }) => {
 *     const { text } = await generateText({
 *       model: outlast("fast", { ctx }),
 *       tools: durableTools(ctx, { getWeather }),
 *       stopWhen: stepCountIs(6),
 *       prompt: `Weather in ${city}?`,
 *     });
 *     return { text };
 *   },
 * });
 * ```
 */
import type { RunContext } from "../../engine/run-context.js";
import { type GatewayHttpOptions, gatewayHttpChat } from "../chat/http.js";
import { journaledChat } from "../chat/journaled.js";
import { OutlastLanguageModel } from "./model.js";

export { GatewayHttpError, type GatewayHttpOptions } from "../chat/http.js";
export { OutlastLanguageModel } from "./model.js";
export { durableTools } from "./tools.js";

export interface OutlastModelOptions extends GatewayHttpOptions {
  /**
   * The run's context, inside an agent: calls are journaled `ctx.llm` calls through the
   * worker's gateway (the HTTP settings are then unused). Without it, calls go to the
   * gateway over HTTP.
   */
  ctx?: RunContext;
  /** Inside an agent, the journal entry's name for each call (default `llm:<model>`). */
  stepName?: string;
}

/**
 * A language model for the AI SDK: `model` is an alias of the gateway (`fast`), a
 * `provider/model`, or a model of the default provider.
 *
 * @example
 * ```ts
 * const { text } = await generateText({ model: outlast("fast"), prompt: "Hello" }); // over HTTP
 * const inAgent = outlast("fast", { ctx }); // journaled, inside an agent's run
 * ```
 */
export function outlast(model: string, opts: OutlastModelOptions = {}): OutlastLanguageModel {
  const { ctx, stepName, ...http } = opts;
  const transport = ctx
    ? journaledChat(ctx, stepName === undefined ? {} : { stepName })
    : gatewayHttpChat(http);
  return new OutlastLanguageModel(model, transport);
}

/**
 * Settings shared by several models (the server, its key, headers), as the AI SDK's
 * provider factories do.
 *
 * @example
 * ```ts
 * const gateway = createOutlast({ baseURL: "http://127.0.0.1:7373", apiKey: process.env.OUTLAST_API_KEY });
 * const model = gateway("smart"); // over HTTP; gateway("smart", { ctx }) inside an agent
 * ```
 */
export function createOutlast(
  defaults: GatewayHttpOptions = {},
): (model: string, opts?: OutlastModelOptions) => OutlastLanguageModel {
  return (model, opts = {}) => outlast(model, { ...defaults, ...opts });
}
