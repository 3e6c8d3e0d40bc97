import { parseSse } from "../../events/sse-parse.js";
import type { ChatCompletion, ChatCompletionChunk, ChatTransport } from "./types.js";

export interface GatewayHttpOptions {
  /** The Outlast server (default `OUTLAST_URL`, else `http://127.0.0.1:7373`). */
  baseURL?: string;
  /** Its API key (default `OUTLAST_API_KEY`), sent as a bearer token. */
  apiKey?: string;
  /** Sent with every call: `x-outlast-feature`, `x-outlast-tenant`, `x-outlast-wait`… */
  headers?: Record<string, string>;
  /** A fetch of your own (tests, proxies). */
  fetch?: typeof fetch;
}

/**
 * The gateway answered a model call over HTTP with an error: its status, its stable
 * `code` (`OUTLAST_GATEWAY_RATE_LIMITED`, a provider's own) and, for a 429, how long to
 * wait.
 */
export class GatewayHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "GatewayHttpError";
  }
  /** 408, 409, 429 and 5xx are worth another try; SDKs that retry read this. */
  get isRetryable(): boolean {
    return this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Model calls to the gateway's OpenAI-compatible endpoint (`POST /v1/chat/completions`):
 * what the SDK integrations use outside an agent, where nothing is journaled.
 */
export function gatewayHttpChat(opts: GatewayHttpOptions = {}): ChatTransport {
  const base = (opts.baseURL ?? process.env.OUTLAST_URL ?? "http://127.0.0.1:7373").replace(
    /\/+$/,
    "",
  );
  const apiKey = opts.apiKey ?? process.env.OUTLAST_API_KEY;
  const doFetch = opts.fetch ?? fetch;
  const post = async (body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> => {
    const res = await doFetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...opts.headers,
      },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw await errorOf(res);
    return res;
  };
  return {
    baseURL: `${base}/v1`,
    complete: async (body, signal) => {
      const { stream: _s, stream_options: _o, ...rest } = body;
      return (await (await post(rest, signal)).json()) as ChatCompletion;
    },
    stream: async (body, signal) => {
      const res = await post(
        { ...body, stream: true, stream_options: { include_usage: true } },
        signal,
      );
      if (!res.body) throw new GatewayHttpError(502, undefined, "the gateway sent no stream");
      return chunks(res.body);
    },
  };
}

async function* chunks(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatCompletionChunk> {
  for await (const msg of parseSse(body)) {
    if (msg.data === "[DONE]") return;
    const parsed = JSON.parse(msg.data) as ChatCompletionChunk & {
      error?: { message?: string; code?: string };
    };
    // A stream that breaks ends with an error event, never a clean close (relay.ts).
    if (parsed.error) {
      throw new GatewayHttpError(
        502,
        parsed.error.code ?? undefined,
        parsed.error.message ?? "the stream broke",
      );
    }
    yield parsed;
  }
}

async function errorOf(res: Response): Promise<GatewayHttpError> {
  const text = await res.text();
  let code: string | undefined;
  let message = text.slice(0, 500);
  try {
    const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    code = err?.code ?? undefined;
    message = err?.message ?? message;
  } catch {}
  const ms = Number(res.headers.get("retry-after-ms"));
  const s = Number(res.headers.get("retry-after"));
  const retryAfterMs = ms > 0 ? ms : s > 0 ? s * 1000 : undefined;
  return new GatewayHttpError(
    res.status,
    code,
    `gateway: HTTP ${res.status}: ${message}`,
    retryAfterMs,
  );
}
