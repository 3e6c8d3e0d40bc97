/**
 * Input tokens of a request, counted before it is sent so the reservation covers it.
 * gpt-tokenizer (o200k_base) with OpenAI's published chat recipe: 3 tokens per message,
 * 3 to prime the reply, tool definitions as JSON. Anthropic's tokenizer differs by a few
 * percent; the reservation is reconciled with the billed usage afterwards either way.
 */
import { countTokens } from "gpt-tokenizer";
import type { WireFormat } from "./config.js";

const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

/**
 * Agents resend the same system prompts and history every step; BPE costs ~0.15 µs a
 * character, a Map lookup one hash pass. Bounded; cleared when full (an LRU's upkeep
 * would cost more than the occasional recount).
 */
const MEMO_MAX = 4096;
const memo = new Map<string, number>();

export function countText(text: string): number {
  if (text.length === 0) return 0;
  let n = memo.get(text);
  if (n === undefined) {
    n = countTokens(text);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(text, n);
  }
  return n;
}

/** The text a content value contributes: strings, text parts, tool uses and results. */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    let out = "";
    for (const part of value) {
      const t = textOf(part);
      if (t) out = out ? `${out}\n${t}` : t;
    }
    return out;
  }
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.text === "string") return o.text;
    if (o.type === "tool_use") return `${String(o.name)} ${JSON.stringify(o.input ?? {})}`;
    if ("content" in o) return textOf(o.content);
  }
  return "";
}

function messageText(m: unknown): string {
  if (m === null || typeof m !== "object") return "";
  const msg = m as Record<string, unknown>;
  let text = textOf(msg.content);
  if (Array.isArray(msg.tool_calls)) {
    for (const call of msg.tool_calls) {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
      if (fn) text += `\n${String(fn.name)} ${String(fn.arguments ?? "")}`;
    }
  }
  return text;
}

/** Input tokens of a chat-completions or messages body. */
export function countInput(format: WireFormat, body: Record<string, unknown>): number {
  let total = REPLY_PRIMING;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) total += PER_MESSAGE + countText(messageText(m));
  const extras = [
    format === "anthropic" ? textOf(body.system) : "",
    Array.isArray(body.tools) && body.tools.length > 0 ? JSON.stringify(body.tools) : "",
  ];
  for (const e of extras) if (e) total += PER_MESSAGE + countText(e);
  return total;
}

/** The caller's output bound: max_tokens (or OpenAI's newer max_completion_tokens). */
export function outputBound(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;
}
