/**
 * `POST /v1/chat/completions`, non-streaming and streaming.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { admit, type SimContext } from "../engine.js";
import { sendJson, startSse } from "../http.js";
import { newId } from "../ids.js";
import { DEFAULT_OUTPUT_TOKENS, type ProducedReply, produceReply } from "../reply.js";
import { ScriptedError } from "../scripted.js";
import { dataEvent, groupEvents, jsonWith, paceStream, type SseEvent, textPieces } from "../sse.js";
import { countPrompt } from "../tokens.js";
import { parseChat } from "./validate.js";
import {
  invalidRequest,
  openaiHeaders,
  SERVER_ERROR,
  sendOpenAIError,
  sendOpenAIRateLimited,
} from "./wire.js";

const FINGERPRINT = "fp_sim";

export function handleChat(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  startedAt: number,
): void {
  const requestId = newId("req_");
  const parsed = parseChat(body);
  if (!parsed.ok) {
    ctx.stats.count("requests");
    ctx.stats.count("badRequests");
    sendOpenAIError(res, 400, openaiHeaders(requestId, startedAt), parsed.error);
    return;
  }
  const p = parsed.value;
  const model = ctx.catalog.get(p.model);
  const name = model.config.name;
  ctx.stats.count("requests", name);
  const input = countPrompt(p.messages, [p.toolsText]);
  // OpenAI reserves max_tokens against TPM up front; without it, the default reply length.
  const estimate = p.maxTokens ?? model.config.outputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const outcome = admit(ctx, req, res, model, input, estimate);

  if (outcome.kind === "rejected") {
    sendOpenAIRateLimited(
      res,
      openaiHeaders(requestId, startedAt, outcome.limits),
      p.model,
      outcome.rejection,
    );
    return;
  }
  if (outcome.kind === "timeout") return;
  const { exchange, limits, latencyMs } = outcome;
  if (outcome.kind === "error") {
    exchange.later(latencyMs, () =>
      sendOpenAIError(res, 500, openaiHeaders(requestId, startedAt, limits), SERVER_ERROR),
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
      toolIdPrefix: "call_",
      tools: p.tools,
      responseFormat: p.responseFormat,
    });
  } catch (err) {
    ctx.stats.count("errors", name);
    const headers = openaiHeaders(requestId, startedAt, limits);
    if (err instanceof ScriptedError) {
      exchange.later(latencyMs, () =>
        sendOpenAIError(res, err.status, headers, {
          ...(err.status < 500 ? invalidRequest(err.message) : SERVER_ERROR),
          message: err.message,
        }),
      );
      return;
    }
    sendOpenAIError(res, 500, headers, {
      ...SERVER_ERROR,
      message: `The simulated model's reply script threw: ${String(err)}`,
    });
    return;
  }
  exchange.settle(reply.outputTokens);
  const id = newId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);

  if (!p.stream) {
    exchange.later(latencyMs, () => {
      ctx.stats.ok(name, input, reply.outputTokens);
      sendJson(
        res,
        200,
        openaiHeaders(requestId, startedAt, limits),
        completion(id, created, p.model, reply, input),
      );
    });
    return;
  }
  const groups = groupEvents(chunks(id, created, p.model, reply, input, p.includeUsage));
  const begin = () => {
    ctx.stats.ok(name, input, reply.outputTokens);
    startSse(res, openaiHeaders(requestId, startedAt, limits));
  };
  paceStream(exchange, begin, groups, latencyMs);
}

function usage(input: number, output: number) {
  return {
    prompt_tokens: input,
    completion_tokens: output,
    total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function completion(
  id: string,
  created: number,
  model: string,
  reply: ProducedReply,
  input: number,
) {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: reply.text === "" && reply.toolCalls.length > 0 ? null : reply.text,
    refusal: null,
    annotations: [],
  };
  if (reply.toolCalls.length > 0) {
    message.tool_calls = reply.toolCalls.map((c) => ({
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
  }
  return {
    id,
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: reply.stop }],
    usage: usage(input, reply.outputTokens),
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
  };
}

/**
 * The chunk sequence: a role chunk, one chunk per word of content, for each tool call a
 * header chunk (id, name) then its arguments, a finish chunk, the usage chunk when asked
 * (`choices: []`; every earlier chunk then has `usage: null`, as OpenAI does), `[DONE]`.
 */
function chunks(
  id: string,
  created: number,
  model: string,
  reply: ProducedReply,
  input: number,
  includeUsage: boolean,
): SseEvent[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    service_tier: "default",
    system_fingerprint: FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const hasText = reply.text !== "" || reply.toolCalls.length === 0;
  const events: SseEvent[] = [
    dataEvent(
      chunk({ role: "assistant", content: hasText ? "" : null, refusal: null }, null),
      false,
    ),
  ];
  const contentChunk = jsonWith(chunk({ content: "" }, null), "content");
  for (const piece of textPieces(reply.text)) {
    events.push({ data: `data: ${contentChunk(piece)}\n\n`, content: true });
  }
  reply.toolCalls.forEach((c, index) => {
    const head = { index, id: c.id, type: "function", function: { name: c.name, arguments: "" } };
    events.push(dataEvent(chunk({ tool_calls: [head] }, null), true));
    const args = { index, function: { arguments: c.arguments } };
    events.push(dataEvent(chunk({ tool_calls: [args] }, null), true));
  });
  events.push(dataEvent(chunk({}, reply.stop), false));
  if (includeUsage) {
    events.push(
      dataEvent(
        {
          id,
          object: "chat.completion.chunk",
          created,
          model,
          service_tier: "default",
          system_fingerprint: FINGERPRINT,
          choices: [],
          usage: usage(input, reply.outputTokens),
        },
        false,
      ),
    );
  }
  events.push({ data: "data: [DONE]\n\n", content: false });
  return events;
}
