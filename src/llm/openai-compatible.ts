import { RateLimitedError, RetryableError, TerminalError } from "../errors.js";
import { retryAfterMs } from "./retry-after.js";
import type { ChatRequest, ChatResult, ToolCall } from "./types.js";

export interface OpenAICompatibleProvider {
  name: string;
  baseUrl: string;
  apiKey?: string | undefined;
  headers?: Record<string, string> | undefined;
  timeoutMs: number;
}

interface OpenAIChatResponse {
  id?: string;
  model?: string;
  choices?: {
    finish_reason?: string | null;
    message?: {
      content?: string | null;
      tool_calls?: { id: string; function: { name: string; arguments: string } }[];
    };
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

/**
 * One chat completion against an OpenAI-compatible server (OpenAI, vLLM, Ollama, Groq, the
 * simulator). Maps the answer to what the engine should do: 429 → wait (no attempt spent),
 * 5xx/timeouts/network → retry, other 4xx → fail the step for good.
 */
export async function openAIChat(
  provider: OpenAICompatibleProvider,
  model: string,
  request: ChatRequest,
  signal: AbortSignal,
): Promise<ChatResult> {
  const started = performance.now();
  const body = JSON.stringify({ ...request, model, stream: false });
  let res: Response;
  try {
    res = await fetch(`${provider.baseUrl.replace(/\/$/, "")}/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(provider.apiKey ? { authorization: `Bearer ${provider.apiKey}` } : {}),
        ...provider.headers,
      },
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(provider.timeoutMs)]),
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw new RetryableError(`${provider.name}: request failed: ${(err as Error).message}`, {
      code: "OUTLAST_PROVIDER_UNAVAILABLE",
    });
  }
  const text = await res.text();
  if (!res.ok) {
    const detail = providerMessage(text);
    const wait = retryAfterMs(res.headers);
    const where = `${provider.name}/${model}: HTTP ${res.status}: ${detail}`;
    if (
      res.status === 429 &&
      res.headers.get("x-should-retry") !== "false" &&
      !/insufficient_quota/.test(text)
    ) {
      throw new RateLimitedError(where, wait === undefined ? {} : { retryAfterMs: wait });
    }
    if (res.status === 408 || res.status === 409 || res.status >= 500) {
      throw new RetryableError(where, {
        code: "OUTLAST_PROVIDER_ERROR",
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      });
    }
    throw new TerminalError(where, { code: "OUTLAST_PROVIDER_REJECTED" });
  }
  let json: OpenAIChatResponse;
  try {
    json = JSON.parse(text) as OpenAIChatResponse;
  } catch {
    throw new RetryableError(`${provider.name}/${model}: response is not JSON`, {
      code: "OUTLAST_PROVIDER_ERROR",
    });
  }
  const choice = json.choices?.[0];
  return {
    id: json.id ?? "",
    provider: provider.name,
    model: json.model ?? model,
    content: choice?.message?.content ?? null,
    toolCalls: (choice?.message?.tool_calls ?? []).map(toToolCall),
    finishReason: choice?.finish_reason ?? null,
    usage: {
      inputTokens: json.usage?.prompt_tokens ?? 0,
      outputTokens: json.usage?.completion_tokens ?? 0,
    },
    latencyMs: Math.round(performance.now() - started),
  };
}

function toToolCall(tc: { id: string; function: { name: string; arguments: string } }): ToolCall {
  let args: unknown = tc.function.arguments;
  try {
    args = JSON.parse(tc.function.arguments);
  } catch {
    // keep the raw string: the model produced invalid JSON
  }
  return { id: tc.id, name: tc.function.name, arguments: args };
}

function providerMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string };
    if (typeof j.error === "string") return j.error;
    if (j.error?.message) return j.error.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300) || "(empty body)";
}
