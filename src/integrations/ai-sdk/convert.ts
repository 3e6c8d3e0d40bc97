/**
 * The AI SDK's language-model specification v3 (what `ai` 6 calls) ↔ OpenAI's chat
 * completions, the format the gateway serves whatever provider is behind it.
 */
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3Prompt,
  LanguageModelV3ToolResultOutput,
  LanguageModelV3Usage,
  SharedV3Warning,
} from "@ai-sdk/provider";
import type { ChatCompletion, CompletionUsage } from "../chat/types.js";

type Msg = Record<string, unknown>;

/** The chat-completions body for a call, and what the call asked for that it cannot do. */
export function toChatBody(
  modelId: string,
  o: LanguageModelV3CallOptions,
): { body: Record<string, unknown>; warnings: SharedV3Warning[] } {
  const warnings: SharedV3Warning[] = [];
  if (o.topK !== undefined) warnings.push({ type: "unsupported", feature: "topK" });
  const tools: unknown[] = [];
  for (const t of o.tools ?? []) {
    if (t.type !== "function") {
      warnings.push({ type: "unsupported", feature: `provider tool ${t.name}` });
      continue;
    }
    tools.push({
      type: "function",
      function: {
        name: t.name,
        ...(t.description === undefined ? {} : { description: t.description }),
        parameters: t.inputSchema,
        ...(t.strict === undefined ? {} : { strict: t.strict }),
      },
    });
  }
  const body: Record<string, unknown> = { model: modelId, messages: toMessages(o.prompt) };
  const set = (k: string, v: unknown) => {
    if (v !== undefined) body[k] = v;
  };
  set("max_tokens", o.maxOutputTokens);
  set("temperature", o.temperature);
  set("top_p", o.topP);
  set("stop", o.stopSequences?.length ? o.stopSequences : undefined);
  set("presence_penalty", o.presencePenalty);
  set("frequency_penalty", o.frequencyPenalty);
  set("seed", o.seed);
  if (tools.length > 0) {
    body.tools = tools;
    set("tool_choice", toolChoiceOf(o.toolChoice));
  }
  if (o.responseFormat?.type === "json") {
    body.response_format = o.responseFormat.schema
      ? {
          type: "json_schema",
          json_schema: {
            name: o.responseFormat.name ?? "response",
            schema: o.responseFormat.schema,
          },
        }
      : { type: "json_object" };
  }
  return { body, warnings };
}

function toolChoiceOf(c: LanguageModelV3CallOptions["toolChoice"]): unknown {
  if (!c) return undefined;
  if (c.type === "tool") return { type: "function", function: { name: c.toolName } };
  return c.type;
}

function toMessages(prompt: LanguageModelV3Prompt): Msg[] {
  const out: Msg[] = [];
  for (const m of prompt) {
    switch (m.role) {
      case "system":
        out.push({ role: "system", content: m.content });
        break;
      case "user": {
        const parts = m.content.map((p) => {
          if (p.type === "text") return { type: "text", text: p.text };
          if (p.mediaType.startsWith("image/")) {
            const url =
              p.data instanceof URL
                ? p.data.toString()
                : `data:${p.mediaType};base64,${typeof p.data === "string" ? p.data : Buffer.from(p.data).toString("base64")}`;
            return { type: "image_url", image_url: { url } };
          }
          throw new TypeError(
            `outlast/ai-sdk: file parts of type ${p.mediaType} are not supported`,
          );
        });
        const allText = parts.every((p) => p.type === "text");
        out.push({
          role: "user",
          content: allText ? parts.map((p) => (p as { text: string }).text).join("") : parts,
        });
        break;
      }
      case "assistant": {
        let text = "";
        const calls: unknown[] = [];
        for (const p of m.content) {
          if (p.type === "text") text += p.text;
          else if (p.type === "tool-call") {
            calls.push({
              id: p.toolCallId,
              type: "function",
              function: {
                name: p.toolName,
                arguments: typeof p.input === "string" ? p.input : JSON.stringify(p.input),
              },
            });
          }
        }
        out.push({
          role: "assistant",
          content: calls.length > 0 && text === "" ? null : text,
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
        });
        break;
      }
      case "tool":
        for (const p of m.content) {
          if (p.type !== "tool-result") continue;
          out.push({ role: "tool", tool_call_id: p.toolCallId, content: outputText(p.output) });
        }
        break;
    }
  }
  return out;
}

function outputText(o: LanguageModelV3ToolResultOutput): string {
  switch (o.type) {
    case "text":
    case "error-text":
      return o.value;
    case "json":
    case "error-json":
      return JSON.stringify(o.value);
    case "execution-denied":
      return o.reason ?? "The tool call was denied.";
    case "content":
      return o.value.map((v) => (v.type === "text" ? v.text : "")).join("");
  }
}

export function finishReasonOf(raw: string | null | undefined): LanguageModelV3FinishReason {
  const unified =
    raw === "stop"
      ? "stop"
      : raw === "length"
        ? "length"
        : raw === "tool_calls" || raw === "function_call"
          ? "tool-calls"
          : raw === "content_filter"
            ? "content-filter"
            : "other";
  return { unified, raw: raw ?? undefined };
}

export function usageOf(u: CompletionUsage | null | undefined): LanguageModelV3Usage {
  const input = u?.prompt_tokens;
  const cached = u?.prompt_tokens_details?.cached_tokens;
  return {
    inputTokens: {
      total: input,
      noCache: input === undefined ? undefined : input - (cached ?? 0),
      cacheRead: cached,
      cacheWrite: undefined,
    },
    outputTokens: { total: u?.completion_tokens, text: u?.completion_tokens, reasoning: undefined },
  };
}

/** A completion's first choice as the specification's content parts. */
export function contentOf(c: ChatCompletion): LanguageModelV3Content[] {
  const message = c.choices[0]?.message;
  const out: LanguageModelV3Content[] = [];
  if (message?.content) out.push({ type: "text", text: message.content });
  for (const t of message?.tool_calls ?? []) {
    out.push({
      type: "tool-call",
      toolCallId: t.id,
      toolName: t.function.name,
      input: t.function.arguments || "{}",
    });
  }
  return out;
}
