/**
 * Request validation for `POST /v1/messages`, with Anthropic's `field: problem` wording.
 */
import { isPositiveInt, isRecord } from "../http.js";

export interface MessagesRequest {
  model: string;
  messages: unknown[];
  maxTokens: number;
  /** System prompt as text: it counts toward input tokens. */
  systemText: string;
  stream: boolean;
  /** Tools were declared and `tool_choice` is not `{type:"none"}`. */
  toolsAllowed: boolean;
  toolsText: string;
  /** `tools` as sent, for reply scripts. */
  tools: unknown;
}

export type Parsed = { ok: true; value: MessagesRequest } | { ok: false; message: string };

export function parseMessages(body: unknown): Parsed {
  if (!isRecord(body)) return fail("Request body must be a JSON object");
  if (body.model === undefined) return fail("model: Field required");
  if (typeof body.model !== "string" || body.model === "") {
    return fail("model: Input should be a valid string");
  }
  if (body.max_tokens === undefined) return fail("max_tokens: Field required");
  if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens)) {
    return fail("max_tokens: Input should be a valid integer");
  }
  if (!isPositiveInt(body.max_tokens)) {
    return fail("max_tokens: Input should be greater than or equal to 1");
  }
  const { messages } = body;
  if (messages === undefined) return fail("messages: Field required");
  if (!Array.isArray(messages)) return fail("messages: Input should be a valid list");
  if (messages.length === 0) return fail("messages: at least one message is required");
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m)) return fail(`messages.${i}: Input should be a valid dictionary`);
    if (m.role !== "user" && m.role !== "assistant") {
      return fail(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    if (typeof m.content !== "string" && !Array.isArray(m.content)) {
      return fail(
        `messages.${i}.content: Input should be a valid string or a list of content blocks`,
      );
    }
  }
  const { system } = body;
  if (system !== undefined && typeof system !== "string" && !Array.isArray(system)) {
    return fail("system: Input should be a valid string or a list of text blocks");
  }
  if (body.stream !== undefined && typeof body.stream !== "boolean") {
    return fail("stream: Input should be a valid boolean");
  }
  const { tools } = body;
  if (tools !== undefined && !Array.isArray(tools))
    return fail("tools: Input should be a valid list");
  const hasTools = Array.isArray(tools) && tools.length > 0;
  const choice = body.tool_choice;
  return {
    ok: true,
    value: {
      model: body.model,
      messages,
      maxTokens: body.max_tokens,
      systemText: systemText(system),
      stream: body.stream === true,
      toolsAllowed: hasTools && !(isRecord(choice) && choice.type === "none"),
      toolsText: hasTools ? JSON.stringify(tools) : "",
      tools,
    },
  };
}

function systemText(system: unknown): string {
  if (typeof system === "string") return system;
  if (!Array.isArray(system)) return "";
  return system
    .map((b) => (isRecord(b) && typeof b.text === "string" ? b.text : ""))
    .filter(Boolean)
    .join("\n");
}

function fail(message: string): Parsed {
  return { ok: false, message };
}
