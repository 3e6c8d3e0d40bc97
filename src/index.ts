/**
 * Outlast's public surface. Everything exported here is supported; anything imported
 * from a deeper path is internal and may change.
 */

export type { ConfigInput } from "./config/define.js";
export { defineConfig } from "./config/define.js";
export type { AgentDefinition, RetryPolicy } from "./engine/agent.js";
export { defineAgent } from "./engine/agent.js";
export type { RunContext, StepContext } from "./engine/context.js";
export {
  CancelledError,
  NonDeterminismError,
  OutlastError,
  RateLimitedError,
  RetryableError,
  TerminalError,
  TimeoutError,
} from "./errors.js";
export type { ChatMessage, ChatRequest, ChatResult, ToolCall } from "./llm/types.js";
