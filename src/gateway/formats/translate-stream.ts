/**
 * A translator from one wire format's SSE events to another's: decode into neutral
 * events, encode each for the caller. `relay.ts` calls it per event, after reading the
 * usage out of the provider's own events (so billing never depends on the translation).
 */
import type { WireFormat } from "../config.js";
import { anthropicDecoder, openaiDecoder } from "./decode.js";
import { anthropicEncoder } from "./encode-anthropic.js";
import { type Encoder, openaiEncoder } from "./encode-openai.js";
import type { SseTranslator } from "./events.js";

export interface TranslateOptions {
  /** The model name the caller asked for, shown in its events. */
  model: string;
  /** OpenAI callers: send the usage chunk. */
  includeUsage: boolean;
}

export function streamTranslator(
  from: WireFormat,
  to: WireFormat,
  opts: TranslateOptions,
): SseTranslator {
  const decode = from === "openai" ? openaiDecoder() : anthropicDecoder();
  const encode: Encoder = to === "openai" ? openaiEncoder(opts) : anthropicEncoder(opts);
  return (event, data) => {
    let out = "";
    for (const e of decode(event, data)) out += encode(e);
    return out;
  };
}
