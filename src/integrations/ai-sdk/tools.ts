import type { ToolSet } from "ai";
import type { RunContext } from "../../engine/run-context.js";

type Execute = (input: unknown, options: { abortSignal?: AbortSignal }) => unknown;

/**
 * The same tools, each `execute` a journaled step (`tool:<name>`): a tool call that
 * finished before a crash is not run again on the replay — its recorded (JSON) result is
 * handed back to the SDK. The step's signal replaces `abortSignal`, so a cancelled run
 * aborts the tool. Tools without `execute` are left as they are. A tool whose `execute`
 * streams (returns an async iterable) is journaled with its last value.
 *
 * @example
 * ```ts
 * const { text } = await generateText({
 *   model: outlast("fast", { ctx }),
 *   tools: durableTools(ctx, { getWeather }),
 *   stopWhen: stepCountIs(6),
 *   prompt: "Weather in Paris?",
 * });
 * ```
 */
export function durableTools<T extends ToolSet>(ctx: RunContext, tools: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(tools)) {
    const execute = t.execute as Execute | undefined;
    if (!execute) {
      out[name] = t;
      continue;
    }
    out[name] = {
      ...t,
      execute: (input: unknown, options: { abortSignal?: AbortSignal }) =>
        ctx.step(`tool:${name}`, async ({ signal }) =>
          lastOf(await execute(input, { ...options, abortSignal: signal })),
        ),
    };
  }
  return out as T;
}

async function lastOf(value: unknown): Promise<unknown> {
  if (value === null || typeof value !== "object" || !(Symbol.asyncIterator in value)) return value;
  let last: unknown;
  for await (const v of value as AsyncIterable<unknown>) last = v;
  return last;
}
