/**
 * Passes a provider's SSE stream through to the caller, event by event, while reading
 * the usage out of it:
 *
 * - OpenAI reports usage only in a last chunk with `choices: []`, and only when asked
 *   (`stream_options.include_usage`). The gateway always asks; when the caller did not,
 *   that chunk and the `"usage":null` of every other chunk are removed, so the caller sees
 *   exactly what the provider would have sent it.
 * - Anthropic reports input tokens in `message_start` and a *cumulative* `output_tokens`
 *   in `message_delta`: the last value is taken, never the sum (PROVIDERS.md).
 * - A stream that breaks, or ends without its terminator (`[DONE]`, `message_stop`),
 *   ends with an error event in the caller's format instead of a clean close — a
 *   truncated answer must not look complete (Portkey #1797).
 */
import type { IncomingMessage } from "node:http";
import type { WireFormat } from "../config.js";
import type { SseTranslator } from "../formats/events.js";
import { anthropicUsage, openaiUsage, type Usage } from "./usage.js";

export interface RelayEnd {
  usage: Usage | undefined;
  complete: boolean;
  /** The caller went away before the end. */
  cancelled: boolean;
  error: string | undefined;
  /** What the caller saw, when `keepTranscript` (for the cache). */
  transcript: string | undefined;
}

export interface RelayOptions {
  /** The provider's wire format. */
  format: WireFormat;
  /**
   * The caller's, when it differs: each provider event is read for usage as usual, then
   * `translate` makes the caller's events of it (formats/translate-stream.ts).
   */
  caller?: { format: WireFormat; translate: SseTranslator } | undefined;
  /** OpenAI: the caller did not ask for usage, so usage is removed from what it sees. */
  stripUsage: boolean;
  keepTranscript: boolean;
  onEnd(end: RelayEnd): void;
}

const USAGE_NULL_TAIL = ',"usage":null}';
const TRANSCRIPT_MAX_CHARS = 1024 * 1024;

export function relayStream(
  upstream: IncomingMessage,
  opts: RelayOptions,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const iterator = upstream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buffer = "";
  let usage: Usage | undefined;
  let complete = false;
  let ended = false;
  let transcript: string | undefined = opts.keepTranscript ? "" : undefined;

  const end = (e: Partial<RelayEnd>) => {
    if (ended) return;
    ended = true;
    opts.onEnd({
      usage,
      complete,
      cancelled: false,
      error: undefined,
      transcript: complete ? transcript : undefined,
      ...e,
    });
  };

  const translate = opts.caller?.translate;

  /** Processes one SSE event block; returns what to forward ("" to drop it). */
  const handle = (block: string): string => {
    let event = "";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("data:")) data += line.slice(line[5] === " " ? 6 : 5);
      else if (line.startsWith("event:")) event = line.slice(6).trim();
    }
    const forward = read(block, event, data);
    return translate === undefined ? forward : translate(event, data);
  };

  /** Reads usage and the end out of one provider event; returns it as relayed as is. */
  const read = (block: string, event: string, data: string): string => {
    if (opts.format === "openai") {
      if (data === "[DONE]") {
        complete = true;
        return `${block}\n\n`;
      }
      if (opts.stripUsage && data.endsWith(USAGE_NULL_TAIL)) {
        return `data: ${data.slice(0, -USAGE_NULL_TAIL.length)}}\n\n`;
      }
      if (data.includes('"usage":{')) {
        const chunk = JSON.parse(data) as Record<string, unknown>;
        usage = openaiUsage(chunk.usage) ?? usage;
        if (!opts.stripUsage) return `${block}\n\n`;
        if (Array.isArray(chunk.choices) && chunk.choices.length === 0) return "";
        delete chunk.usage;
        return `data: ${JSON.stringify(chunk)}\n\n`;
      }
      if (data.startsWith('{"error"'))
        throw new Error(`provider stream error: ${data.slice(0, 300)}`);
      return `${block}\n\n`;
    }
    if (event === "message_start") {
      const msg = (JSON.parse(data) as { message?: { usage?: unknown } }).message;
      usage = anthropicUsage(msg?.usage);
    } else if (event === "message_delta") {
      const out = (JSON.parse(data) as { usage?: { output_tokens?: unknown } }).usage
        ?.output_tokens;
      // Cumulative: replace, never add.
      if (usage && typeof out === "number") usage = { ...usage, output: out };
    } else if (event === "message_stop") {
      complete = true;
    } else if (event === "error") {
      throw new Error(`provider stream error: ${data.slice(0, 300)}`);
    }
    return `${block}\n\n`;
  };

  const errorEvent = (message: string): string => {
    const code = "OUTLAST_GATEWAY_STREAM_INTERRUPTED";
    return (opts.caller?.format ?? opts.format) === "openai"
      ? `data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code } })}\n\n`
      : `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message, code } })}\n\n`;
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          buffer += decoder.decode(next.value, { stream: true });
          if (buffer.includes("\r")) buffer = buffer.replace(/\r\n/g, "\n");
          let out = "";
          let i = buffer.indexOf("\n\n");
          while (i >= 0) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            if (block.trim() !== "") out += handle(block);
            i = buffer.indexOf("\n\n");
          }
          if (out !== "") {
            if (transcript !== undefined) {
              transcript =
                transcript.length + out.length > TRANSCRIPT_MAX_CHARS
                  ? undefined
                  : transcript + out;
            }
            controller.enqueue(encoder.encode(out));
            return;
          }
        }
        if (!complete) throw new Error("the provider's stream ended before its final event");
        end({});
        controller.close();
      } catch (err) {
        const message = `the provider's stream broke after it started: ${(err as Error).message}`;
        controller.enqueue(encoder.encode(errorEvent(message)));
        end({ complete: false, error: message });
        controller.close();
        upstream.destroy();
      }
    },
    cancel() {
      upstream.destroy();
      end({ complete: false, cancelled: true });
    },
  });
}
