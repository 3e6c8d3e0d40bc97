/**
 * `POST /v1/messages`, non-streaming and streaming.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { admit, type SimContext } from "../engine.js";
import { sendJson, startSse } from "../http.js";
import { newId } from "../ids.js";
import { type ProducedReply, produceReply, type StopReason } from "../reply.js";
import { ScriptedError } from "../scripted.js";
import {
  groupEvents,
  jsonWith,
  namedEvent,
  paceStream,
  type SseEvent,
  textPieces,
} from "../sse.js";
import { countPrompt } from "../tokens.js";
import { parseMessages } from "./validate.js";
import { anthropicHeaders, sendAnthropicError, sendAnthropicRateLimited } from "./wire.js";

const STOP_REASONS: Record<StopReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
};

export function handleMessages(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): void {
  const requestId = newId("req_");
  const parsed = parseMessages(body);
  if (!parsed.ok) {
    ctx.stats.count("requests");
    ctx.stats.count("badRequests");
    const headers = anthropicHeaders(requestId);
    sendAnthropicError(res, 400, headers, "invalid_request_error", parsed.message);
    return;
  }
  const p = parsed.value;
  const model = ctx.catalog.get(p.model);
  const name = model.config.name;
  ctx.stats.count("requests", name);
  const input = countPrompt(p.messages, [p.systemText, p.toolsText]);
  // Anthropic estimates output from max_tokens at admission and corrects it afterwards.
  const outcome = admit(ctx, req, res, model, input, p.maxTokens);

  if (outcome.kind === "rejected") {
    const headers = anthropicHeaders(requestId, outcome.limits);
    sendAnthropicRateLimited(res, headers, outcome.rejection);
    return;
  }
  if (outcome.kind === "timeout") return;
  const { exchange, limits, latencyMs } = outcome;
  if (outcome.kind === "error") {
    exchange.later(latencyMs, () =>
      sendAnthropicError(
        res,
        529,
        anthropicHeaders(requestId, limits),
        "overloaded_error",
        "Overloaded",
      ),
    );
    return;
  }

  let reply: ProducedReply;
  try {
    reply = produceReply(model.config, {
      model: p.model,
      messages: p.messages,
      maxTokens: p.maxTokens,
      toolsAllowed: p.toolsAllowed,
      toolIdPrefix: "toolu_",
      tools: p.tools,
    });
  } catch (err) {
    ctx.stats.count("errors", name);
    const headers = anthropicHeaders(requestId, limits);
    if (err instanceof ScriptedError) {
      const type = err.status < 500 ? "invalid_request_error" : "api_error";
      exchange.later(latencyMs, () =>
        sendAnthropicError(res, err.status, headers, type, err.message),
      );
      return;
    }
    sendAnthropicError(
      res,
      500,
      headers,
      "api_error",
      `The simulated model's reply script threw: ${String(err)}`,
    );
    return;
  }
  exchange.settle(reply.outputTokens);
  const id = newId("msg_");

  if (!p.stream) {
    exchange.later(latencyMs, () => {
      ctx.stats.ok(name, input, reply.outputTokens);
      sendJson(res, 200, anthropicHeaders(requestId, limits), {
        id,
        type: "message",
        role: "assistant",
        model: p.model,
        content: contentBlocks(reply),
        stop_reason: STOP_REASONS[reply.stop],
        stop_sequence: null,
        usage: usage(input, reply.outputTokens),
      });
    });
    return;
  }
  const groups = groupEvents(streamEvents(id, p.model, reply, input));
  const begin = () => {
    ctx.stats.ok(name, input, reply.outputTokens);
    startSse(res, anthropicHeaders(requestId, limits));
  };
  paceStream(exchange, begin, groups, latencyMs);
}

function usage(input: number, output: number) {
  return {
    input_tokens: input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: output,
  };
}

/** A text block unless the reply is tool calls only, then one tool_use block per call. */
function contentBlocks(reply: ProducedReply): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [];
  if (reply.text !== "" || reply.toolCalls.length === 0)
    blocks.push({ type: "text", text: reply.text });
  for (const c of reply.toolCalls)
    blocks.push({ type: "tool_use", id: c.id, name: c.name, input: c.input });
  return blocks;
}

/**
 * The real event sequence: message_start (input tokens, and a small initial
 * output_tokens as Anthropic sends, so a client that adds usages instead of taking the
 * last one is caught), ping, per block content_block_start / _delta… / _stop,
 * message_delta with the cumulative output_tokens, message_stop.
 */
function streamEvents(id: string, model: string, reply: ProducedReply, input: number): SseEvent[] {
  const events: SseEvent[] = [
    namedEvent(
      "message_start",
      {
        type: "message_start",
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: usage(input, Math.min(1, reply.outputTokens)),
        },
      },
      false,
    ),
    namedEvent("ping", { type: "ping" }, false),
  ];
  let index = 0;
  if (reply.text !== "" || reply.toolCalls.length === 0) {
    events.push(
      namedEvent(
        "content_block_start",
        { type: "content_block_start", index, content_block: { type: "text", text: "" } },
        false,
      ),
    );
    const delta = jsonWith(
      { type: "content_block_delta", index, delta: { type: "text_delta", text: "" } },
      "text",
    );
    for (const text of textPieces(reply.text)) {
      events.push({ data: `event: content_block_delta\ndata: ${delta(text)}\n\n`, content: true });
    }
    events.push(namedEvent("content_block_stop", { type: "content_block_stop", index }, false));
    index++;
  }
  for (const c of reply.toolCalls) {
    const block = { type: "tool_use", id: c.id, name: c.name, input: {} };
    const delta = { type: "input_json_delta", partial_json: JSON.stringify(c.input) };
    events.push(
      namedEvent(
        "content_block_start",
        { type: "content_block_start", index, content_block: block },
        false,
      ),
      namedEvent("content_block_delta", { type: "content_block_delta", index, delta }, true),
      namedEvent("content_block_stop", { type: "content_block_stop", index }, false),
    );
    index++;
  }
  events.push(
    namedEvent(
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: STOP_REASONS[reply.stop], stop_sequence: null },
        usage: { output_tokens: reply.outputTokens },
      },
      false,
    ),
    namedEvent("message_stop", { type: "message_stop" }, false),
  );
  return events;
}
