/**
 * The gateway's chat-completion stream (whatever target served it) → OpenAI's Responses
 * API events: `response.created`, per output item `output_item.added`, text or argument
 * deltas and their `done` events, `output_item.done`, then `response.completed` (or
 * `response.incomplete`) with usage. A stream that broke ends with `error` and
 * `response.failed`, never a clean completion.
 */
import { openaiDecoder } from "../formats/decode.js";
import type { StreamEvent } from "../formats/events.js";
import { echoed, functionCallItem, idFrom, messageItem, responsesUsage } from "./response.js";

type Obj = Record<string, unknown>;

interface OpenItem {
  index: number;
  item: Obj;
  /** Text so far (a message) or arguments so far (a function call). */
  text: string;
}

/** Turns neutral events into Responses SSE text. */
export function responsesEncoder(
  req: Obj,
): (e: StreamEvent | { type: "error"; data: string }) => string {
  let seq = 0;
  let id = "";
  const created = Math.floor(Date.now() / 1000);
  const items: Obj[] = [];
  let message: OpenItem | undefined;
  const calls = new Map<number, OpenItem>();
  let stop = "stop";
  let usage = { input: 0, output: 0, cached: 0 };
  const send = (type: string, payload: Obj) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...payload })}\n\n`;
  const response = (status: string, extra: Obj = {}): Obj => ({
    id,
    object: "response",
    created_at: created,
    status,
    error: null,
    incomplete_details: null,
    model: req.model,
    output: items.filter(Boolean),
    usage: null,
    ...echoed(req),
    ...extra,
  });
  const finish = (open: OpenItem): string => {
    const item = open.item;
    if (item.type === "message") {
      const done = messageItem(String(item.id), open.text);
      items[open.index] = done;
      const part = (done.content as Obj[])[0];
      return (
        send("response.output_text.done", {
          item_id: item.id,
          output_index: open.index,
          content_index: 0,
          text: open.text,
          logprobs: [],
        }) +
        send("response.content_part.done", {
          item_id: item.id,
          output_index: open.index,
          content_index: 0,
          part,
        }) +
        send("response.output_item.done", { output_index: open.index, item: done })
      );
    }
    const done = functionCallItem(
      String(item.id),
      String(item.call_id),
      String(item.name),
      open.text || "{}",
    );
    items[open.index] = done;
    return (
      send("response.function_call_arguments.done", {
        item_id: item.id,
        output_index: open.index,
        arguments: done.arguments,
      }) + send("response.output_item.done", { output_index: open.index, item: done })
    );
  };
  const closeAll = (): string => {
    let out = "";
    const open = [...(message ? [message] : []), ...calls.values()].sort(
      (a, b) => a.index - b.index,
    );
    for (const o of open) out += finish(o);
    message = undefined;
    calls.clear();
    return out;
  };
  /** Opens the message item (its text comes in deltas); returns it and its events. */
  const openMessage = (): [OpenItem, string] => {
    const index = items.length;
    const item: Obj = { ...messageItem(idFrom("msg_", id), "", "in_progress"), content: [] };
    items.push(item);
    message = { index, item, text: "" };
    return [
      message,
      send("response.output_item.added", { output_index: index, item }) +
        send("response.content_part.added", {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          part: { type: "output_text", text: "", annotations: [], logprobs: [] },
        }),
    ];
  };
  return (e) => {
    switch (e.type) {
      case "start":
        id = idFrom("resp_", e.id);
        return (
          send("response.created", { response: response("in_progress") }) +
          send("response.in_progress", { response: response("in_progress") })
        );
      case "text": {
        const [open, out] = message ? [message, ""] : openMessage();
        open.text += e.text;
        return (
          out +
          send("response.output_text.delta", {
            item_id: open.item.id,
            output_index: open.index,
            content_index: 0,
            delta: e.text,
            logprobs: [],
          })
        );
      }
      case "tool_start": {
        const index = items.length;
        const item = {
          type: "function_call",
          id: `fc_${e.index}_${id.slice(5)}`,
          call_id: e.id,
          name: e.name,
          arguments: "",
          status: "in_progress",
        };
        items.push(item);
        calls.set(e.index, { index, item, text: "" });
        return send("response.output_item.added", { output_index: index, item });
      }
      case "tool_args": {
        const open = calls.get(e.index);
        if (!open) return "";
        open.text += e.json;
        return send("response.function_call_arguments.delta", {
          item_id: open.item.id,
          output_index: open.index,
          delta: e.json,
        });
      }
      case "stop":
        stop = e.reason;
        return "";
      case "usage":
        usage = e;
        return "";
      case "end": {
        // An answer with neither text nor tool calls is an empty message, as in JSON.
        const out = (items.length === 0 ? openMessage()[1] : "") + closeAll();
        const incomplete = stop === "length";
        const final = response(incomplete ? "incomplete" : "completed", {
          incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
          usage: responsesUsage(usage.input, usage.output, usage.cached),
        });
        return (
          out + send(incomplete ? "response.incomplete" : "response.completed", { response: final })
        );
      }
      case "error": {
        let error: Obj = { message: e.data };
        try {
          error = ((JSON.parse(e.data) as Obj).error ?? error) as Obj;
        } catch {
          // keep the raw text
        }
        const code = String(error.code ?? "OUTLAST_GATEWAY_STREAM_INTERRUPTED");
        const message = String(error.message ?? "the stream broke");
        return (
          send("error", { code, message, param: null }) +
          send("response.failed", { response: response("failed", { error: { code, message } }) })
        );
      }
    }
  };
}

/** Reads the gateway's chat-completion SSE and writes Responses SSE. */
export function chatStreamToResponses(
  source: ReadableStream<Uint8Array>,
  req: Obj,
): ReadableStream<Uint8Array> {
  const decode = openaiDecoder();
  const encode = responsesEncoder(req);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = "";
  const blockOut = (block: string): string => {
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("data:")) data += line.slice(line[5] === " " ? 6 : 5);
    }
    if (data === "") return "";
    if (data.startsWith('{"error"')) return encode({ type: "error", data });
    let out = "";
    for (const e of decode("", data)) out += encode(e);
    return out;
  };
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        if (buffer.includes("\r")) buffer = buffer.replace(/\r\n/g, "\n");
        let out = "";
        let i = buffer.indexOf("\n\n");
        while (i >= 0) {
          out += blockOut(buffer.slice(0, i));
          buffer = buffer.slice(i + 2);
          i = buffer.indexOf("\n\n");
        }
        if (out) controller.enqueue(encoder.encode(out));
      },
      flush(controller) {
        const out = buffer.trim() ? blockOut(buffer) : "";
        if (out) controller.enqueue(encoder.encode(out));
      },
    }),
  );
}
