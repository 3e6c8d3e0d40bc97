import type { RunContext } from "../../engine/run-context.js";
import type { ChatRequest, ChatResult } from "../../llm/types.js";
import type { ChatCompletion, ChatCompletionChunk, ChatTransport } from "./types.js";

export interface JournaledChatOptions {
  /**
   * The journal entry's name for every call (default `llm:<model>`, as `ctx.llm` names it).
   * A replay must make the same calls under the same names, in the same order.
   */
  stepName?: string;
}

/**
 * Model calls as journaled `ctx.llm` calls: through the worker's in-process gateway (its
 * limits, failover, accounting against the run), recorded before the SDK sees the answer,
 * and on a replay answered from the journal without calling the provider again.
 *
 * A stream is the journaled answer played back as chunks: the call completes first (a
 * journal entry holds a whole answer, never half of one), so inside an agent a streaming
 * SDK call gets its text in one piece, not token by token. Outside an agent the HTTP
 * transport streams for real.
 */
export function journaledChat(ctx: RunContext, opts: JournaledChatOptions = {}): ChatTransport {
  const complete = async (body: Record<string, unknown>): Promise<ChatResult> => {
    const { stream: _stream, stream_options: _options, ...rest } = body;
    const request = rest as ChatRequest;
    return ctx.llm(opts.stepName === undefined ? request : { ...request, name: opts.stepName });
  };
  return {
    baseURL: "outlast:journal",
    complete: async (body) => completionOf(await complete(body)),
    stream: async (body) => chunksOf(await complete(body)),
  };
}

function toolCallsOf(r: ChatResult): ChatCompletion["choices"][0]["message"]["tool_calls"] {
  if (r.toolCalls.length === 0) return undefined;
  return r.toolCalls.map((c) => ({
    id: c.id,
    type: "function" as const,
    function: {
      name: c.name,
      // ChatResult keeps parsed arguments (or the raw text when it was not JSON).
      arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments),
    },
  }));
}

function usageOf(r: ChatResult) {
  const { inputTokens, outputTokens } = r.usage;
  return {
    prompt_tokens: inputTokens,
    completion_tokens: outputTokens,
    total_tokens: inputTokens + outputTokens,
  };
}

/** A journaled answer as the chat completion the provider sent. */
export function completionOf(r: ChatResult): ChatCompletion {
  const toolCalls = toolCallsOf(r);
  return {
    id: r.id,
    object: "chat.completion",
    created: 0,
    model: r.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: r.content,
          refusal: null,
          ...(toolCalls ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: r.finishReason,
        logprobs: null,
      },
    ],
    usage: usageOf(r),
  };
}

/**
 * A journaled answer as the chunks of a stream: the role and text, each tool call whole,
 * the finish reason, then the usage chunk (`stream_options.include_usage`).
 */
export function chunksOf(r: ChatResult): AsyncIterable<ChatCompletionChunk> {
  const base = { id: r.id, object: "chat.completion.chunk" as const, created: 0, model: r.model };
  const toolCalls = toolCallsOf(r) ?? [];
  const chunks: ChatCompletionChunk[] = [
    {
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: "assistant", content: r.content ?? "" },
          finish_reason: null,
        },
      ],
    },
    ...toolCalls.map((c, index) => ({
      ...base,
      choices: [{ index: 0, delta: { tool_calls: [{ index, ...c }] }, finish_reason: null }],
    })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: r.finishReason ?? "stop" }] },
    { ...base, choices: [], usage: usageOf(r) },
  ];
  return (async function* () {
    yield* chunks;
  })();
}
