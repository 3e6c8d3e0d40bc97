/**
 * The simulated LLM provider: an HTTP server speaking OpenAI's and Anthropic's wire
 * formats, with real rate-limit enforcement. See ARCHITECTURE.md beside this file.
 */
export { type SimFlags, simOptionsFromFlags } from "./flags.js";
export { sampleFromSchema } from "./scripted.js";
export { startSimulator } from "./server.js";
export type {
  SimCounters,
  SimModelConfig,
  SimReply,
  SimReplyRequest,
  SimStats,
  Simulator,
  SimulatorOptions,
} from "./types.js";
