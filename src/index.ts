/**
 * Outlast's public surface: `outlast` (agents, config, errors) and `outlast/client` (the
 * typed HTTP client, src/client/index.ts). Everything exported there is supported; the
 * package exports no deeper path. test/package/exports.test.ts installs the packed
 * tarball and imports every name the docs mention.
 */

export type { ConfigInput } from "./config/define.js";
export { defineConfig } from "./config/define.js";
export type { AgentDefinition, RetryPolicy } from "./engine/agent.js";
export { defineAgent } from "./engine/agent.js";
export type { RunContext, StepContext, StepOptions } from "./engine/context.js";
export { ChildRunFailedError, SignalTimeoutError } from "./engine/wait-errors.js";
export {
  CancelledError,
  type ErrorKind,
  LeaseLostError,
  NonDeterminismError,
  OutlastError,
  RateLimitedError,
  RetryableError,
  type SerializedError,
  TerminalError,
  TimeoutError,
} from "./errors.js";
export type { ChatMessage, ChatRequest, ChatResult, ToolCall } from "./llm/types.js";
export type { RunStatus, Wait, WaitingFor, WaitKind } from "./types/index.js";
