/**
 * A model's streamed answer in neutral terms, between a provider's SSE events
 * (`decode.ts`) and the caller's (`encode-*.ts`). Streams are translated only when the
 * caller's wire format differs from the target's; otherwise they are relayed as they come.
 */

/** Why generation stopped, in OpenAI chat's words. */
export type StopReason = "stop" | "length" | "tool_calls";

export type StreamEvent =
  | { type: "start"; id: string }
  | { type: "text"; text: string }
  /** A tool call begins; `index` counts tool calls from 0 in the order they start. */
  | { type: "tool_start"; index: number; id: string; name: string }
  /** A piece of the tool call's arguments (JSON text, in pieces). */
  | { type: "tool_args"; index: number; json: string }
  | { type: "stop"; reason: StopReason }
  /** Billed usage: `input` includes cache reads (`cached`), as `providers/usage.ts` counts it. */
  | { type: "usage"; input: number; output: number; cached: number }
  /** The provider's stream ended with its terminator. */
  | { type: "end" };

/** Anthropic's stop_reason → OpenAI's finish_reason. */
export const FROM_ANTHROPIC_STOP: Record<string, StopReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
  pause_turn: "stop",
  refusal: "stop",
};

/** OpenAI's finish_reason → Anthropic's stop_reason. */
export const TO_ANTHROPIC_STOP: Record<StopReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
};

/** One SSE event as `relay.ts` hands it over: its `event:` name ("" for none) and data. */
export type SseTranslator = (event: string, data: string) => string;
