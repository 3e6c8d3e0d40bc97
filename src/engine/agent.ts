import { fileURLToPath } from "node:url";
import type { z } from "zod";
import type { AgentProfile } from "../types/index.js";
import { callerFile } from "../util/caller.js";
import type { RunContext } from "./context.js";

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  /** First backoff cap in ms; doubles per attempt (full jitter). Default 1000. */
  initialDelayMs?: number;
  /** Largest backoff in ms. Default 60000. */
  maxDelayMs?: number;
}

/** An agent; `estimate` and `whenQuotaShort` (what quota admission reads) are in AgentProfile. */
export interface AgentDefinition<I = unknown, O = unknown> extends AgentProfile {
  readonly name: string;
  /** Validates input at submit time (a 400 names the bad field) and before each run. */
  readonly input?: z.ZodType<I>;
  /** Queue the agent's runs go to unless the submitter names one. Default "default". */
  readonly queue?: string;
  readonly retry?: RetryPolicy;
  /** Time budget of one attempt. */
  readonly timeoutMs?: number;
  readonly description?: string;
  /**
   * The agent's version, recorded on each run. Default: a hash of `run`'s source. A worker
   * replays a started run only on the same version or one listed in `compatibleVersions`.
   */
  readonly version?: string;
  /** Versions whose started runs this code can replay (their steps are unchanged). */
  readonly compatibleVersions?: readonly string[];
  readonly run: (ctx: RunContext, input: I) => Promise<O>;
}

const SELF = fileURLToPath(import.meta.url);

/** Key under which defineAgent records the defining module's path. */
export const AGENT_SOURCE = Symbol.for("outlast.agentSource");

const NAME_RE = /^[a-zA-Z][\w.-]{0,127}$/;

/**
 * Declares an agent: a function that Outlast runs durably. Every `ctx.*` call inside
 * `run` is a journaled step; after a crash the function runs again from the top and
 * finished steps return their recorded results.
 *
 * @example
 * ```ts
 * import { defineAgent } from "outlast";
 * import { z } from "zod";
 *
 * export const hello = defineAgent({
 *   name: "hello",
 *   input: z.object({ name: z.string() }),
 *   run: async (ctx, { name }) => {
 *     const reply = await ctx.llm({ model: "fast", messages: [{ role: "user", content: `Greet ${name}` }] });
 *     const shout = await ctx.step("shout", async () => reply.content.toUpperCase());
 *     return { greeting: shout };
 *   },
 * });
 * ```
 */
export function defineAgent<I, O>(def: AgentDefinition<I, O>): AgentDefinition<I, O> {
  const source = callerFile(SELF);
  if (!NAME_RE.test(def.name)) {
    throw new TypeError(
      `agent name ${JSON.stringify(def.name)} is invalid: use letters, digits, '.', '_' or '-', starting with a letter`,
    );
  }
  if (typeof def.run !== "function")
    throw new TypeError(`agent ${def.name}: run must be a function`);
  // Where the agent is defined: its default version is a hash of that module's source.
  return Object.freeze({ ...def, ...(source ? { [AGENT_SOURCE]: source } : {}) });
}

// Agents of any input and output type live together in a config; `any` is the only type
// that both zod's invariant schema type and the run function accept.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AnyAgent = AgentDefinition<any, any>;
