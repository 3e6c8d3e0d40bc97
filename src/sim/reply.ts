/**
 * What the simulated model "generates": a scripted reply, or a deterministic default
 * derived from the last user message, bounded by max_tokens.
 */
import { decode, encode } from "gpt-tokenizer";
import { newId } from "./ids.js";
import { replyRequest, ScriptedError, sampleFromSchema } from "./scripted.js";
import { countText, lastUserText } from "./tokens.js";
import type { SimModelConfig } from "./types.js";

export const DEFAULT_OUTPUT_TOKENS = 32;

/** Why generation stopped, in neutral terms; each API maps it to its own vocabulary. */
export type StopReason = "stop" | "length" | "tool_calls";

export interface ToolCallOut {
  id: string;
  name: string;
  /** JSON text, as OpenAI sends `function.arguments`. */
  arguments: string;
  /** Parsed object, as Anthropic sends `tool_use.input`. */
  input: unknown;
}

export interface ProducedReply {
  text: string;
  toolCalls: ToolCallOut[];
  outputTokens: number;
  stop: StopReason;
}

export interface ReplyRequest {
  model: string;
  messages: unknown[];
  maxTokens: number | undefined;
  /** The request declared tools (and did not forbid their use). */
  toolsAllowed: boolean;
  /** Prefix for generated tool-call ids: `call_` (OpenAI) or `toolu_` (Anthropic). */
  toolIdPrefix: string;
  /** The request's tool definitions, as sent. */
  tools?: unknown;
  /** OpenAI's `response_format`, as sent. */
  responseFormat?: unknown;
}

/**
 * Runs the model's script (if any) and shapes the result. Throws whatever the script
 * throws, and a ScriptedError when the script asks for an error reply.
 */
export function produceReply(config: SimModelConfig, req: ReplyRequest): ProducedReply {
  const view = config.reply
    ? replyRequest(req.model, req.messages, req.tools, req.responseFormat)
    : undefined;
  const scripted = view ? config.reply?.(view) : undefined;
  if (scripted?.error) {
    const { status, message } = scripted.error;
    throw new ScriptedError(Number.isInteger(status) ? status : 500, String(message));
  }
  let scriptedText = scripted?.text;
  if (scripted && scripted.json !== undefined && scriptedText === undefined) {
    const json =
      scripted.json === true ? sampleFromSchema(view?.responseSchema ?? {}) : scripted.json;
    scriptedText = JSON.stringify(json);
  }
  const calls = req.toolsAllowed && scripted?.toolCalls?.length ? scripted.toolCalls : [];
  const toolCalls = calls.map((c) => toolCall(c.name, c.arguments, req.toolIdPrefix));
  let toolTokens = 0;
  for (const c of toolCalls) toolTokens += countText(`${c.name} ${c.arguments}`);

  if (scriptedText !== undefined) {
    const { text, tokens, truncated } = boundText(scriptedText, req.maxTokens);
    const stop = truncated ? "length" : toolCalls.length ? "tool_calls" : "stop";
    return { text, toolCalls, outputTokens: tokens + toolTokens, stop };
  }
  if (toolCalls.length > 0) {
    return { text: "", toolCalls, outputTokens: toolTokens, stop: "tool_calls" };
  }
  const natural = config.outputTokens ?? DEFAULT_OUTPUT_TOKENS;
  const target = req.maxTokens === undefined ? natural : Math.min(natural, req.maxTokens);
  const generated = defaultReply(lastUserText(req.messages), target);
  return {
    text: generated.text,
    toolCalls,
    outputTokens: generated.tokens,
    stop: target < natural ? "length" : "stop",
  };
}

function toolCall(name: string, args: unknown, prefix: string): ToolCallOut {
  if (typeof args === "string") {
    let input: unknown = {};
    try {
      input = JSON.parse(args);
    } catch {
      // Keep the raw string for OpenAI; Anthropic gets an empty object, as a model would.
    }
    return { id: newId(prefix), name, arguments: args, input };
  }
  const input = args ?? {};
  return { id: newId(prefix), name, arguments: JSON.stringify(input), input };
}

/** Cuts a scripted text to max_tokens, as a model would stop mid-sentence. */
function boundText(
  text: string,
  maxTokens: number | undefined,
): { text: string; tokens: number; truncated: boolean } {
  const tokens = countText(text);
  if (maxTokens === undefined || tokens <= maxTokens) return { text, tokens, truncated: false };
  return { text: decode(encode(text).slice(0, maxTokens)), tokens: maxTokens, truncated: true };
}

/**
 * Filler appended after the echo until the reply reaches its target length. It starts
 * with a space and ends with a period, so repeating its token ids gives the same ids as
 * encoding the repeated text (a test checks it): no re-encoding per request.
 */
const FILLER = " The simulated model keeps talking so that every reply has a realistic length.";
let fillerIds: number[] | undefined;

/**
 * Pays the tokenizer's first-use cost (~10 ms: building its caches) at start-up instead
 * of on the first request, which would otherwise show up as a latency outlier.
 */
export function warmUp(): void {
  defaultReply("warm up", DEFAULT_OUTPUT_TOKENS);
  countText("warm up the tokenizer");
}

const REPLY_CACHE_LIMIT = 1024;
const replyCache = new Map<string, { text: string; tokens: number }>();

/**
 * "Simulated reply to: <message>" padded with filler, or cut, to exactly `target` tokens.
 *
 * @example defaultReply("hi", 8).tokens // 8
 */
export function defaultReply(userText: string, target: number): { text: string; tokens: number } {
  // A token is at least one character, so 8 chars per token is more than enough echo.
  const echo = userText.length > target * 8 + 64 ? userText.slice(0, target * 8 + 64) : userText;
  const key = `${target}\u0000${echo}`;
  const cached = replyCache.get(key);
  if (cached) return cached;

  const ids = encode(echo ? `Simulated reply to: ${echo}` : "Simulated reply.");
  let out: number[];
  if (ids.length >= target) {
    out = ids.slice(0, target);
  } else {
    fillerIds ??= encode(FILLER);
    out = ids;
    while (out.length < target) {
      for (const id of fillerIds) {
        if (out.length >= target) break;
        out.push(id);
      }
    }
  }
  const result = { text: decode(out), tokens: out.length };
  if (replyCache.size >= REPLY_CACHE_LIMIT) replyCache.clear();
  replyCache.set(key, result);
  return result;
}
