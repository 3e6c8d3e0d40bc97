import { TerminalError } from "../errors.js";
import { type OpenAICompatibleProvider, openAIChat } from "./openai-compatible.js";
import type { ChatRequest, ChatResult, LlmCallOptions, LlmClient } from "./types.js";

/**
 * Resolves `ctx.llm`'s model string to a provider and model, then calls it:
 * an alias from the config (`fast` → `sim/gpt-4o-mini`), then `provider/model`, then a
 * bare model on the only provider. The AI gateway replaces this with limits and failover.
 */
export class ProviderRouter implements LlmClient {
  private readonly providers: Map<string, OpenAICompatibleProvider>;

  constructor(
    providers: readonly OpenAICompatibleProvider[],
    private readonly aliases: Readonly<Record<string, string>> = {},
  ) {
    this.providers = new Map(providers.map((p) => [p.name, p]));
  }

  resolve(model: string): { provider: OpenAICompatibleProvider; model: string } {
    const target = this.aliases[model] ?? model;
    const slash = target.indexOf("/");
    if (slash > 0) {
      const provider = this.providers.get(target.slice(0, slash));
      if (provider) return { provider, model: target.slice(slash + 1) };
    }
    if (this.providers.size === 1) {
      const [provider] = this.providers.values();
      if (provider) return { provider, model: target };
    }
    throw new TerminalError(
      `no provider for model "${model}": use an alias (${Object.keys(this.aliases).join(", ") || "none configured"}) or provider/model with a provider from the config (${[...this.providers.keys()].join(", ") || "none configured"})`,
      { code: "OUTLAST_UNKNOWN_MODEL" },
    );
  }

  chat(request: ChatRequest, opts: LlmCallOptions): Promise<ChatResult> {
    const { provider, model } = this.resolve(request.model);
    return openAIChat(provider, model, request, opts.signal);
  }
}
