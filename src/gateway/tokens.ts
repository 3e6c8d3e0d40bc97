/**
 * Input tokens of a request, counted before it is sent so the reservation covers it:
 * the shared recipe of src/llm/tokens.ts (3 tokens per message, 3 to prime the reply,
 * tool definitions as JSON, Anthropic's system prompt as one more message).
 */
import { countPrompt, countText, textOf } from "../llm/tokens.js";
import type { WireFormat } from "./config.js";

/** Input tokens of a chat-completions or messages body. */
export function countInput(format: WireFormat, body: Record<string, unknown>): number {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return countPrompt(messages, [
    format === "anthropic" ? textOf(body.system) : "",
    Array.isArray(body.tools) && body.tools.length > 0 ? JSON.stringify(body.tools) : "",
  ]);
}

/** The caller's output bound: max_tokens (or OpenAI's newer max_completion_tokens). */
export function outputBound(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Input tokens of an embeddings body: its texts counted, token-id arrays by length. */
export function countEmbeddingInput(input: unknown): number {
  const items =
    Array.isArray(input) && !input.every((x) => typeof x === "number") ? input : [input];
  let n = 0;
  for (const item of items) {
    if (typeof item === "string") n += countText(item);
    else if (Array.isArray(item)) n += item.length;
  }
  return n;
}
