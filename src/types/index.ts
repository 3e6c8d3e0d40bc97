/**
 * The data shapes every layer shares: runs, statuses, waits, the journal, fair claims and
 * what admission reads of an agent. This folder imports nothing outside itself
 * (test/architecture/layers.test.ts checks it), so the store, the engine, quota and the
 * API can all depend on it without depending on each other.
 */
export type { AgentProfile } from "./agents.js";
export type { FairClaim, FairClaimSource, FairnessConfig } from "./fairness.js";
export type { JournalEntry, SerializedError, StartedStep, StepRecord } from "./journal.js";
export {
  DEFAULT_PRINCIPAL,
  DEFAULT_PROJECT,
  type Principal,
  ROLES,
  type Role,
  roleAllows,
} from "./principal.js";
export { isTerminalStatus, RUN_STATUSES, type RunStatus, TERMINAL_STATUSES } from "./run-status.js";
export type { Claimant, ClaimedRun, NewRun, RunRow } from "./runs.js";
export {
  MULTITASK_STRATEGIES,
  type MultitaskStrategy,
  type ThreadMessage,
  type ThreadRow,
  type ThreadVersionRow,
} from "./threads.js";
export { WAIT_KINDS, type Wait, type WaitingFor, type WaitKind } from "./waits.js";
