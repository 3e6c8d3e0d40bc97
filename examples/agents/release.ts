import { defineAgent, TerminalError } from "outlast";
import { z } from "zod";

/**
 * Runs this process failed on purpose (input `simulateOutage`). It stands in for a bug
 * fixed and deployed between a failure and `outlast runs resume`: the same run's next
 * publish succeeds. Per process, so it is only a demo (one `outlast dev`).
 */
const outageSeen = new Set<string>();

/**
 * The walk-through agent of the README: drafts release notes with the LLM, cools down,
 * then waits — durably, holding no worker — for a person to send the `approval` signal,
 * and publishes. With `simulateOutage: true` its first publish fails, to show a failed
 * run resumed from its failed step: the draft is not paid for again.
 */
export const release = defineAgent({
  name: "release",
  description: "Drafts release notes, waits for an approval signal, then publishes.",
  input: z.object({
    title: z.string().min(1).max(200),
    simulateOutage: z.boolean().default(false),
  }),
  run: async (ctx, { title, simulateOutage }) => {
    const draft = await ctx.llm({
      name: "draft notes",
      model: "fast",
      max_tokens: 60,
      messages: [{ role: "user", content: `Write one line of release notes for: ${title}` }],
    });
    const notes = (draft.content ?? "").trim();
    await ctx.progress({ phase: "drafted" });
    await ctx.sleep("cool down", "2s");
    await ctx.progress({ phase: "waiting for approval" });
    const decision = await ctx.waitForSignal<{ approved?: boolean; by?: string }>("approval", {
      timeoutMs: 24 * 3_600_000,
    });
    if (!decision?.approved) return { title, published: false, by: decision?.by ?? null };
    const published = await ctx.step("publish", () => {
      if (simulateOutage && !outageSeen.has(ctx.runId)) {
        outageSeen.add(ctx.runId);
        throw new TerminalError("the release service is down (simulateOutage); resume the run");
      }
      return { at: new Date().toISOString() };
    });
    return { title, notes, published: true, by: decision.by ?? null, at: published.at };
  },
});
