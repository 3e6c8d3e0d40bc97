import type { Agent, Handoff, Tool } from "@openai/agents";
import type { RunContext } from "../../engine/run-context.js";
import { OutlastModelProvider } from "./provider.js";

// biome-ignore lint/suspicious/noExplicitAny: agents of any context and output type
type AnyAgent = Agent<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: handoffs of any context and output type
type AnyHandoff = Handoff<any, any>;

export interface DurableAgentOptions {
  /** The model of an agent that names none (default `fast`). */
  defaultModel?: string;
}

/**
 * A copy of `agent` — and of every agent it can hand off to — for one run of an Outlast
 * agent: each model call a journaled `ctx.llm` call through the worker's gateway, each
 * function tool's `invoke` a journaled step (`tool:<name>`). `run(durableAgent(ctx, agent),
 * input)` then survives a crash: the replay answers the finished model and tool calls from
 * the journal and goes on from the first one that did not finish. The agents you pass are
 * not changed (they may serve other runs at the same time).
 *
 * An agent whose `model` is a `Model` object, not a name, is refused: its calls could not
 * go through the gateway. Handoffs are decided by the journaled model answers, so a replay
 * takes the same ones; an `onHandoff` callback runs again on a replay (keep it free of side
 * effects, or make them a journaled step after the run).
 *
 * @example
 * ```ts
 * import { run } from "@openai/agents";
 * import { durableAgent } from "outlast/openai-agents";
 *
 * const result = await run(durableAgent(ctx, triage), input.question);
 * ```
 */
export function durableAgent<A extends AnyAgent>(
  ctx: RunContext,
  agent: A,
  opts: DurableAgentOptions = {},
): A {
  const provider = new OutlastModelProvider({
    ctx,
    ...(opts.defaultModel === undefined ? {} : { defaultModel: opts.defaultModel }),
  });
  const copies = new Map<AnyAgent, AnyAgent>();

  const copy = (a: AnyAgent): AnyAgent => {
    const done = copies.get(a);
    if (done) return done;
    if (a.model !== undefined && typeof a.model !== "string") {
      throw new TypeError(
        `outlast/openai-agents: agent "${a.name}" has a Model object as its model; name a model of the gateway (a string) so its calls can be journaled`,
      );
    }
    const clone = a.clone({
      model: provider.getModel(a.model || undefined),
      tools: a.tools.map((t: Tool) => journaledTool(ctx, t)),
      handoffs: [],
    });
    // Registered before the handoffs are copied: agents may hand off to each other.
    copies.set(a, clone);
    clone.handoffs = a.handoffs.map((h) => (isHandoff(h) ? copyHandoff(h) : copy(h)));
    return clone;
  };

  const copyHandoff = (h: AnyHandoff): AnyHandoff => {
    const out = Object.assign(Object.create(Object.getPrototypeOf(h)) as AnyHandoff, h);
    out.agent = copy(h.agent);
    out.onInvokeHandoff = async (context, args) => copy(await h.onInvokeHandoff(context, args));
    return out;
  };

  return copy(agent) as A;
}

function isHandoff(h: AnyAgent | AnyHandoff): h is AnyHandoff {
  return typeof (h as AnyHandoff).onInvokeHandoff === "function";
}

/** A function tool whose invocations are journaled steps; other tools as they are. */
function journaledTool(ctx: RunContext, t: Tool): Tool {
  if (t.type !== "function") return t;
  const invoke = t.invoke;
  return {
    ...t,
    invoke: (runContext, input, details) =>
      ctx.step(`tool:${t.name}`, () => invoke(runContext, input, details)),
  };
}
