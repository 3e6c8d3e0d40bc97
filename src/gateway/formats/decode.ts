/**
 * A provider's SSE events → neutral `StreamEvent`s. Each decoder keeps what it must
 * across events (Anthropic's usage, which content block is which tool call).
 */
import { anthropicUsage, openaiUsage, type Usage } from "../providers/usage.js";
import { FROM_ANTHROPIC_STOP, type StopReason, type StreamEvent } from "./events.js";

type Obj = Record<string, unknown>;
export type Decoder = (event: string, data: string) => StreamEvent[];

/** OpenAI chat-completion chunks (`data: {…}` … `data: [DONE]`). */
export function openaiDecoder(): Decoder {
  let started = false;
  const tools = new Set<number>();
  return (_event, data) => {
    if (data === "[DONE]") return [{ type: "end" }];
    const chunk = JSON.parse(data) as Obj;
    const out: StreamEvent[] = [];
    if (!started) {
      started = true;
      out.push({ type: "start", id: String(chunk.id ?? "") });
    }
    const choice = (chunk.choices as Obj[] | undefined)?.[0];
    const delta = choice?.delta as Obj | undefined;
    if (typeof delta?.content === "string" && delta.content !== "") {
      out.push({ type: "text", text: delta.content });
    }
    for (const tc of (delta?.tool_calls as Obj[] | undefined) ?? []) {
      const index = Number(tc.index ?? 0);
      const fn = (tc.function ?? {}) as Obj;
      if (!tools.has(index)) {
        tools.add(index);
        out.push({
          type: "tool_start",
          index,
          id: String(tc.id ?? ""),
          name: String(fn.name ?? ""),
        });
      }
      if (typeof fn.arguments === "string" && fn.arguments !== "") {
        out.push({ type: "tool_args", index, json: fn.arguments });
      }
    }
    if (typeof choice?.finish_reason === "string") {
      const reason = choice.finish_reason;
      out.push({
        type: "stop",
        reason: reason === "length" || reason === "tool_calls" ? reason : "stop",
      });
    }
    const usage = openaiUsage(chunk.usage);
    if (usage) out.push({ type: "usage", ...usage });
    return out;
  };
}

/** Anthropic message events (`message_start` … `message_stop`). */
export function anthropicDecoder(): Decoder {
  let usage: Usage | undefined;
  let stop: StopReason = "stop";
  let toolCount = 0;
  /** Content block index → tool call index. */
  const toolOf = new Map<number, number>();
  return (event, data) => {
    switch (event) {
      case "message_start": {
        const msg = (JSON.parse(data) as Obj).message as Obj | undefined;
        usage = anthropicUsage(msg?.usage);
        return [{ type: "start", id: String(msg?.id ?? "") }];
      }
      case "content_block_start": {
        const e = JSON.parse(data) as Obj;
        const block = (e.content_block ?? {}) as Obj;
        if (block.type !== "tool_use") return [];
        const index = toolCount++;
        toolOf.set(Number(e.index), index);
        return [
          { type: "tool_start", index, id: String(block.id ?? ""), name: String(block.name ?? "") },
        ];
      }
      case "content_block_delta": {
        const e = JSON.parse(data) as Obj;
        const delta = (e.delta ?? {}) as Obj;
        if (delta.type === "text_delta" && typeof delta.text === "string" && delta.text !== "") {
          return [{ type: "text", text: delta.text }];
        }
        const index = toolOf.get(Number(e.index));
        if (delta.type === "input_json_delta" && index !== undefined) {
          const json = String(delta.partial_json ?? "");
          return json === "" ? [] : [{ type: "tool_args", index, json }];
        }
        return [];
      }
      case "message_delta": {
        const e = JSON.parse(data) as { delta?: Obj; usage?: Obj };
        const reason = e.delta?.stop_reason;
        if (typeof reason === "string") stop = FROM_ANTHROPIC_STOP[reason] ?? "stop";
        // Cumulative: the last value is the total (PROVIDERS.md).
        const out = e.usage?.output_tokens;
        if (usage && typeof out === "number") usage = { ...usage, output: out };
        return [];
      }
      case "message_stop":
        return [
          { type: "stop", reason: stop },
          ...(usage ? [{ type: "usage" as const, ...usage }] : []),
          { type: "end" },
        ];
      default:
        return [];
    }
  };
}
