/**
 * Neutral stream events → Anthropic message events, for an Anthropic-format caller served
 * by an OpenAI-format target. OpenAI reports usage only at the end, so `message_start`
 * carries no input count yet; the final `message_delta` carries input and output (the
 * SDKs take both from it).
 */

import type { Encoder } from "./encode-openai.js";
import { type StopReason, TO_ANTHROPIC_STOP } from "./events.js";

const named = (name: string, payload: object) =>
  `event: ${name}\ndata: ${JSON.stringify({ type: name, ...payload })}\n\n`;

export function anthropicEncoder(opts: { model: string }): Encoder {
  /** Index of the next content block, and the open one. */
  let next = 0;
  let open: { index: number; kind: "text" | "tool"; tool?: number } | undefined;
  const toolBlocks = new Map<number, number>();
  let stop: StopReason = "stop";
  let usage = { input: 0, output: 0, cached: 0 };
  const close = (): string => {
    if (!open) return "";
    const out = named("content_block_stop", { index: open.index });
    open = undefined;
    return out;
  };
  return (e) => {
    switch (e.type) {
      case "start": {
        const id = e.id.startsWith("msg_") ? e.id : `msg_${e.id}`;
        return (
          named("message_start", {
            message: {
              id,
              type: "message",
              role: "assistant",
              model: opts.model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: 0, output_tokens: 0 },
            },
          }) + named("ping", {})
        );
      }
      case "text": {
        let out = "";
        if (open?.kind !== "text") {
          out += close();
          open = { index: next++, kind: "text" };
          out += named("content_block_start", {
            index: open.index,
            content_block: { type: "text", text: "" },
          });
        }
        return (
          out +
          named("content_block_delta", {
            index: open.index,
            delta: { type: "text_delta", text: e.text },
          })
        );
      }
      case "tool_start": {
        const out = close();
        open = { index: next++, kind: "tool", tool: e.index };
        toolBlocks.set(e.index, open.index);
        return (
          out +
          named("content_block_start", {
            index: open.index,
            content_block: { type: "tool_use", id: e.id, name: e.name, input: {} },
          })
        );
      }
      case "tool_args": {
        const index = toolBlocks.get(e.index);
        if (index === undefined) return "";
        return named("content_block_delta", {
          index,
          delta: { type: "input_json_delta", partial_json: e.json },
        });
      }
      case "stop":
        stop = e.reason;
        return close();
      case "usage":
        usage = e;
        return "";
      case "end":
        return (
          close() +
          named("message_delta", {
            delta: { stop_reason: TO_ANTHROPIC_STOP[stop], stop_sequence: null },
            usage: {
              input_tokens: usage.input - usage.cached,
              cache_read_input_tokens: usage.cached,
              cache_creation_input_tokens: 0,
              output_tokens: usage.output,
            },
          }) +
          named("message_stop", {})
        );
    }
  };
}
