/**
 * Neutral stream events → OpenAI chat-completion chunks, for an OpenAI-format caller
 * served by an Anthropic-format target. The usage chunk (`choices: []`) is sent only when
 * the caller asked (`stream_options.include_usage`), as OpenAI does.
 */
import type { StreamEvent } from "./events.js";

export type Encoder = (e: StreamEvent) => string;

export function openaiEncoder(opts: { model: string; includeUsage: boolean }): Encoder {
  let id = "";
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: unknown, finish: string | null, extra?: object) =>
    `data: ${JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created,
      model: opts.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(opts.includeUsage ? { usage: null } : {}),
      ...extra,
    })}\n\n`;
  return (e) => {
    switch (e.type) {
      case "start":
        id = e.id.startsWith("chatcmpl-") ? e.id : `chatcmpl-${e.id}`;
        return chunk({ role: "assistant", content: "" }, null);
      case "text":
        return chunk({ content: e.text }, null);
      case "tool_start":
        return chunk(
          {
            tool_calls: [
              {
                index: e.index,
                id: e.id,
                type: "function",
                function: { name: e.name, arguments: "" },
              },
            ],
          },
          null,
        );
      case "tool_args":
        return chunk({ tool_calls: [{ index: e.index, function: { arguments: e.json } }] }, null);
      case "stop":
        return chunk({}, e.reason);
      case "usage":
        if (!opts.includeUsage) return "";
        return `data: ${JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model: opts.model,
          choices: [],
          usage: {
            prompt_tokens: e.input,
            completion_tokens: e.output,
            total_tokens: e.input + e.output,
            prompt_tokens_details: { cached_tokens: e.cached },
          },
        })}\n\n`;
      case "end":
        return "data: [DONE]\n\n";
    }
  };
}
