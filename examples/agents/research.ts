import { defineAgent, TerminalError } from "outlast";
import { z } from "zod";

/**
 * A realistic multi-step agent: plan with the LLM, run a few tool steps (a search and a
 * page fetch per sub-question), then summarise. Every LLM call and tool call is a
 * journaled step: kill the worker half way and the run continues where it stopped,
 * without paying again for the LLM calls already made.
 */
export const research = defineAgent({
  name: "research",
  description: "Researches a question in a few sub-questions and writes a brief.",
  input: z.object({
    question: z.string().min(3).max(2_000),
    depth: z.number().int().min(1).max(5).default(3),
  }),
  retry: { maxAttempts: 4 },
  timeoutMs: 10 * 60_000,
  run: async (ctx, { question, depth }) => {
    const plan = await ctx.llm({
      name: "plan",
      model: "smart",
      max_tokens: 200,
      messages: [
        {
          role: "system",
          content: `Split the question into ${depth} sub-questions, one per line.`,
        },
        { role: "user", content: question },
      ],
    });
    const subQuestions = toLines(plan.content, depth, question);
    await ctx.progress({ phase: "planned", subQuestions });

    const notes: { question: string; source: string; note: string }[] = [];
    for (const [i, sub] of subQuestions.entries()) {
      const hits = await ctx.step(`search ${i + 1}`, ({ signal }) => searchTool(sub, signal));
      const page = await ctx.step(`read ${i + 1}`, ({ signal }) => readTool(hits[0] ?? "", signal));
      const note = await ctx.llm({
        name: `note ${i + 1}`,
        model: "fast",
        max_tokens: 120,
        messages: [{ role: "user", content: `Note what answers "${sub}" in:\n${page}` }],
      });
      notes.push({ question: sub, source: hits[0] ?? "", note: note.content ?? "" });
      await ctx.progress({ phase: "researching", done: i + 1, of: subQuestions.length });
    }

    const brief = await ctx.llm({
      name: "summarise",
      model: "smart",
      max_tokens: 300,
      messages: [
        { role: "system", content: "Write a short brief from the notes, citing sources." },
        { role: "user", content: JSON.stringify({ question, notes }) },
      ],
    });
    return { question, brief: brief.content, sources: notes.map((n) => n.source) };
  },
});

function toLines(text: string | null, n: number, fallback: string): string[] {
  const lines = (text ?? "")
    .split(/\n|(?<=[.?!])\s+/)
    .map((l) => l.replace(/^[\s\d.)-]+/, "").trim())
    .filter((l) => l.length > 3);
  const out = lines.slice(0, n);
  while (out.length < n) out.push(`${fallback} (aspect ${out.length + 1})`);
  return out;
}

/** A stand-in search tool: deterministic, offline, with the latency of a real one. */
async function searchTool(query: string, signal: AbortSignal): Promise<string[]> {
  if (query.length > 2_000) throw new TerminalError("query too long for the search tool");
  await delay(50, signal);
  const slug = query
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 40);
  return [`https://example.org/${slug}`, `https://example.net/${slug}/overview`];
}

async function readTool(url: string, signal: AbortSignal): Promise<string> {
  await delay(80, signal);
  return `Contents of ${url}: a few paragraphs relevant to the question.`;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
