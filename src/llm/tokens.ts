/**
 * Token counting with gpt-tokenizer (o200k_base, the GPT-4o/GPT-5 encoding) and OpenAI's
 * published chat recipe. One implementation for both sides of the wire: the gateway
 * counts a request's input before sending it (its reservation), and the simulated
 * provider bills with the same counts. Anthropic's tokenizer differs by a few percent; the
 * gateway reconciles with the billed usage either way.
 */
import { countTokens } from "gpt-tokenizer";

/**
 * Fixed cost of each chat message (role, separators), as in OpenAI's published counting
 * recipe for gpt-3.5/4 ("every message follows <|start|>{role}\n{content}<|end|>\n").
 */
export const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with <|start|>assistant<|message|>. */
export const TOKENS_REPLY_PRIMING = 3;

/**
 * Agents and benchmarks resend the same prompts and history, and BPE costs 0.1–0.2 µs per character (measured:
 * 385k chars in 70 ms); looking a string up costs one hash pass over it, ~100x less. So
 * message counts are memoised, long ones included. Bounded by entries and by total
 * characters; cleared when full because an LRU's bookkeeping would cost more than the
 * occasional recount.
 */
const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_CHARS = 32 * 1024 * 1024;
const cache = new Map<string, number>();
let cachedChars = 0;

/** @example countText("hello world") // 2 */
export function countText(text: string): number {
  if (text.length === 0) return 0;
  let n = cache.get(text);
  if (n === undefined) {
    n = countTokens(text);
    if (cache.size >= CACHE_MAX_ENTRIES || cachedChars + text.length > CACHE_MAX_CHARS) {
      cache.clear();
      cachedChars = 0;
    }
    if (text.length <= CACHE_MAX_CHARS) {
      cache.set(text, n);
      cachedChars += text.length;
    }
  }
  return n;
}

/**
 * The text a message part contributes to the prompt, for both wire formats: plain
 * strings, `{type:"text", text}` parts, Anthropic `tool_use` (name + input) and
 * `tool_result` (its content). Images and other media count nothing.
 *
 * @example textOf([{ type: "text", text: "a" }, { type: "text", text: "b" }]) // "a\nb"
 */
export function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    let out = "";
    for (const part of value) {
      const text = textOf(part);
      if (text) out = out ? `${out}\n${text}` : text;
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

/** Text of a whole chat message, including OpenAI assistant tool calls. */
export function messageText(message: unknown): string {
  if (message === null || typeof message !== "object") return "";
  const m = message as Record<string, unknown>;
  let text = textOf(m.content);
  if (Array.isArray(m.tool_calls)) {
    for (const call of m.tool_calls) {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
      if (fn) text += `\n${String(fn.name)} ${String(fn.arguments ?? "")}`;
    }
  }
  return text;
}

/**
 * Prompt tokens of a conversation: each message's text plus a fixed per-message overhead,
 * plus the reply priming, plus any extra text (system prompt, tool definitions).
 *
 * @example countPrompt([{ role: "user", content: "hello" }]) // 1 + 3 + 3 = 7
 */
export function countPrompt(messages: readonly unknown[], extras: readonly string[] = []): number {
  let total = TOKENS_REPLY_PRIMING;
  for (const m of messages) total += TOKENS_PER_MESSAGE + countText(messageText(m));
  for (const extra of extras) if (extra) total += TOKENS_PER_MESSAGE + countText(extra);
  return total;
}
