import { defineAgent } from "outlast";
import { z } from "zod";

/** The quick-start agent: one LLM call, one step, an object back. */
export const hello = defineAgent({
  name: "hello",
  description: "Greets someone with the help of an LLM.",
  input: z.object({ name: z.string().min(1).max(200) }),
  run: async (ctx, { name }) => {
    const reply = await ctx.llm({
      model: "fast",
      max_tokens: 60,
      messages: [
        { role: "system", content: "You write one-line, friendly greetings." },
        { role: "user", content: `Greet ${name}.` },
      ],
    });
    const greeting = await ctx.step("format greeting", () => ({
      text: (reply.content ?? "").trim(),
      words: (reply.content ?? "").trim().split(/\s+/).filter(Boolean).length,
    }));
    return { name, greeting: greeting.text, words: greeting.words, tokens: reply.usage };
  },
});
