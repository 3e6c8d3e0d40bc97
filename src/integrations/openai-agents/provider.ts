import { type Model, type ModelProvider, OpenAIChatCompletionsModel } from "@openai/agents";
import type { RunContext } from "../../engine/run-context.js";
import { type GatewayHttpOptions, gatewayHttpChat } from "../chat/http.js";
import { journaledChat } from "../chat/journaled.js";
import type { ChatTransport } from "../chat/types.js";

type ChatClient = ConstructorParameters<typeof OpenAIChatCompletionsModel>[0];

export interface OutlastModelProviderOptions extends GatewayHttpOptions {
  /**
   * The run's context, inside an agent: every model call is a journaled `ctx.llm` call
   * through the worker's gateway (the HTTP settings are then unused). Without it, calls go
   * to the gateway over HTTP.
   */
  ctx?: RunContext;
  /** The model of an agent that names none (default `fast`, the dev alias). */
  defaultModel?: string;
}

/**
 * A `ModelProvider` for `@openai/agents` whose models are the gateway's: the SDK's own
 * chat-completions model (its conversions of items, tools, handoffs and output types)
 * over Outlast's transport instead of an OpenAI client.
 *
 * @example
 * ```ts
 * import { Runner } from "@openai/agents";
 * const runner = new Runner({ modelProvider: new OutlastModelProvider() }); // over HTTP
 * ```
 */
export class OutlastModelProvider implements ModelProvider {
  private readonly client: ChatClient;
  private readonly defaultModel: string;

  constructor(opts: OutlastModelProviderOptions = {}) {
    const { ctx, defaultModel, ...http } = opts;
    this.defaultModel = defaultModel ?? "fast";
    this.client = clientOver(ctx ? journaledChat(ctx) : gatewayHttpChat(http));
  }

  getModel(modelName?: string): Model {
    return new OpenAIChatCompletionsModel(this.client, modelName || this.defaultModel);
  }
}

/**
 * What OpenAIChatCompletionsModel uses of an OpenAI client: `chat.completions.create`,
 * answering a completion, or (with `stream: true`) an async iterable of chunks.
 */
function clientOver(transport: ChatTransport): ChatClient {
  const client = {
    baseURL: transport.baseURL,
    chat: {
      completions: {
        create: (body: Record<string, unknown>, opts?: { signal?: AbortSignal }) =>
          body.stream === true
            ? transport.stream(body, opts?.signal ?? undefined)
            : transport.complete(body, opts?.signal ?? undefined),
      },
    },
  };
  return client as unknown as ChatClient;
}
