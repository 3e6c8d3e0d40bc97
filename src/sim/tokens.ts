/** The simulator's token counting: the shared recipe (src/llm/tokens.ts). */
import { messageText } from "../llm/tokens.js";

export {
  countPrompt,
  countText,
  messageText,
  TOKENS_PER_MESSAGE,
  TOKENS_REPLY_PRIMING,
  textOf,
} from "../llm/tokens.js";

/** Text of the last `user` message; what the default reply echoes. */
export function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown } | null;
    if (m && m.role === "user") return messageText(m);
  }
  return "";
}
