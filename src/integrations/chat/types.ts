/**
 * The OpenAI chat-completions shapes the SDK integrations speak with the gateway: a body
 * (`ChatRequest`), a completion, and the chunks of a stream. Only the fields the
 * integrations read or write; the gateway's HTTP endpoint sends more, which pass through.
 */

export interface CompletionToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: {
      role: "assistant";
      content: string | null;
      refusal: string | null;
      tool_calls?: CompletionToolCall[];
    };
    finish_reason: string | null;
    logprobs: null;
  }[];
  usage?: CompletionUsage;
}

export interface ChunkToolCall {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string | null; tool_calls?: ChunkToolCall[] };
    finish_reason: string | null;
    logprobs?: null;
  }[];
  usage?: CompletionUsage | null;
}

/**
 * Where an integration's model calls go: inside an agent the journal (`journaledChat`),
 * outside it the gateway over HTTP (`gatewayHttpChat`). Both answer in OpenAI's shapes.
 */
export interface ChatTransport {
  /** Shown by SDKs that print where a model lives (the Agents SDK's traces). */
  readonly baseURL: string;
  complete(body: Record<string, unknown>, signal?: AbortSignal): Promise<ChatCompletion>;
  stream(
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<ChatCompletionChunk>>;
}
