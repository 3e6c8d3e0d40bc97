/**
 * A long conversation, side by side (issue 22): one thread, each turn a ~500-character user
 * message and a ~500-character reply, stored by
 *
 * - Outlast threads: the write `ctx.thread.append(user, reply)` makes (ThreadRepo.write,
 *   fenced by a run's claim, one statement), and a whole turn: read the transcript
 *   (what `ctx.llm({thread: true})` prompts with) and append;
 * - LangGraph.js + PostgresSaver, a one-node graph with the default messages reducer
 *   (MessagesAnnotation): a turn is `graph.invoke({messages: [user]})`, the node replies;
 * - the same with `DeltaChannel` (messagesDeltaReducer), when the installed LangGraph has it.
 *
 * One sequence of 1,000 turns per system, each on a fresh PostgreSQL database; at 100, 300
 * and 1,000 turns: bytes stored (`pg_total_relation_size` of every table involved, TOAST
 * and indexes included, after VACUUM) and the p50 of a turn over its first and last 50
 * turns. Targets (issue 22): at 1,000 turns no more than half of DeltaChannel's bytes, and
 * the last turns' append p50 within 1.5× of the first turns'.
 *
 * Usage: npx tsx bench/threads.ts [--turns 1000] [--only outlast,default,delta]
 */
import { parseArgs } from "node:util";
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import * as LG from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import pg from "pg";
import { defineAgent } from "../src/engine/agent.js";
import { RunService } from "../src/engine/run-service.js";
import { openStore } from "../src/store/open.js";
import { ThreadRepo } from "../src/store/threads.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";

const { values } = parseArgs({
  options: {
    turns: { type: "string", default: "1000" },
    only: { type: "string", default: "outlast,default,delta" },
  },
});
const TURNS = Number(values.turns);
const CHECKPOINTS = [100, 300, 1000].filter((n) => n <= TURNS);
const ONLY = new Set(values.only?.split(","));

/** ~500 characters, different every turn (no compression luck from repeats). */
function text(kind: string, i: number): string {
  let s = `${kind} ${i}: `;
  let x = i * 2654435761;
  while (s.length < 500) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `${(x % 100000).toString(36)} `;
  }
  return s.slice(0, 500);
}

interface Result {
  system: string;
  at: Map<number, { bytes: number; firstP50: number; lastP50: number }>;
}

const p50 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function bytesOf(url: string, schema: string, tables?: string[]): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("VACUUM");
    const r = await c.query<{ n: string }>(
      `SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename)::regclass)), 0)::bigint AS n
       FROM pg_tables WHERE schemaname = $1 AND ($2::text[] IS NULL OR tablename = ANY($2::text[]))`,
      [schema, tables ?? null],
    );
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

/** Runs `turn` TURNS times, recording each turn's ms, and measures bytes at each checkpoint. */
async function sequence(
  system: string,
  turn: (i: number) => Promise<void>,
  bytes: () => Promise<number>,
): Promise<Result> {
  const ms: number[] = [];
  const at = new Map<number, { bytes: number; firstP50: number; lastP50: number }>();
  for (let i = 1; i <= TURNS; i++) {
    const t0 = performance.now();
    await turn(i);
    ms.push(performance.now() - t0);
    if (CHECKPOINTS.includes(i)) {
      at.set(i, {
        bytes: await bytes(),
        firstP50: p50(ms.slice(0, 50)),
        lastP50: p50(ms.slice(i - 50, i)),
      });
      const a = at.get(i);
      // Each figure as soon as it is known: a 1,000-turn LangGraph sequence takes minutes.
      process.stderr.write(
        `${system}: ${i} turns, ${((a?.bytes ?? 0) / 1e6).toFixed(2)} MB, p50 first 50 ${a?.firstP50.toFixed(2)} ms, last 50 ${a?.lastP50.toFixed(2)} ms\n`,
      );
    }
  }
  return { system, at };
}

async function outlast(mode: "append" | "turn"): Promise<Result> {
  const { url, drop } = await freshDatabaseUrl();
  const db = await openStore({ databaseUrl: url });
  try {
    const agent = defineAgent({ name: "chat", run: async () => null });
    const service = new RunService(db, [agent]);
    const { run } = await service.submit({ agent: "chat", thread_id: "conv" });
    // Claimed as a worker would: the write is fenced by this claim and the thread's holder.
    const [claimed] = await service.repo.claim(["default"], 1, {
      id: "bench",
      agents: ["chat"],
      maxAttempts: [1],
    });
    if (!claimed) throw new Error("could not claim the run");
    const threads = new ThreadRepo(db);
    const tables = ["threads", "thread_messages", "thread_entries", "thread_versions"];
    return await sequence(
      mode === "append" ? "Outlast append" : "Outlast turn (read + append)",
      async (i) => {
        if (mode === "turn") {
          const head = await threads.stateAt("default", "conv", undefined);
          const all = await threads.messages("default", "conv", 0, head?.message_count ?? 0, 1e9);
          if (all.length !== (i - 1) * 2) throw new Error(`read ${all.length} messages`);
        }
        const r = await threads.write({
          project: "default",
          threadId: "conv",
          runId: run.id,
          leaseToken: claimed.leaseToken,
          seq: i,
          messages: [
            { role: "user", content: text("user", i) },
            { role: "assistant", content: text("assistant", i) },
          ],
          statePatch: undefined,
        });
        if (r?.message_count !== i * 2) throw new Error(`append ${i} made ${JSON.stringify(r)}`);
      },
      () => bytesOf(url, "outlast", tables),
    );
  } finally {
    await db.close();
    await drop();
  }
}

async function langgraph(delta: boolean): Promise<Result> {
  const { url, drop } = await freshDatabaseUrl();
  const saver = PostgresSaver.fromConnString(url);
  try {
    await saver.setup();
    // biome-ignore lint/suspicious/noExplicitAny: the two state shapes differ only in the channel
    const LGX = LG as any;
    const State = delta
      ? LG.Annotation.Root({
          messages: () =>
            new LGX.DeltaChannel(LGX.messagesDeltaReducer, { initialValueFactory: () => [] }),
        })
      : LG.MessagesAnnotation;
    // biome-ignore lint/suspicious/noExplicitAny: built once per system
    const graph = (new LG.StateGraph(State as any) as any)
      .addNode("reply", (s: { messages: BaseMessage[] }) => ({
        messages: [new AIMessage(text("assistant", s.messages.length / 2 + 0.5))],
      }))
      .addEdge(LG.START, "reply")
      .addEdge("reply", LG.END)
      .compile({ checkpointer: saver });
    const config = { configurable: { thread_id: "conv" } };
    return await sequence(
      delta ? "LangGraph DeltaChannel" : "LangGraph default reducer",
      async (i) => {
        const out = await graph.invoke({ messages: [new HumanMessage(text("user", i))] }, config);
        if (out.messages.length !== i * 2)
          throw new Error(`turn ${i}: ${out.messages.length} messages`);
      },
      () => bytesOf(url, "public"),
    );
  } finally {
    await saver.end();
    await drop();
  }
}

const results: Result[] = [];
if (ONLY.has("outlast")) {
  results.push(await outlast("append"));
  results.push(await outlast("turn"));
}
if (ONLY.has("default")) results.push(await langgraph(false));
if (ONLY.has("delta")) {
  if ("DeltaChannel" in LG) results.push(await langgraph(true));
  else console.log("(the installed LangGraph has no DeltaChannel)");
}

const mb = (b: number) => (b / 1e6).toFixed(2);
console.log(
  `\nOne thread, each turn a ~500-character user message and a ~500-character reply (PostgreSQL)\n`,
);
console.log(
  "| system | turns | MB stored | turn p50 first 50 (ms) | last 50 (ms) | last ÷ first |",
);
console.log("|---|---|---|---|---|---|");
for (const n of CHECKPOINTS) {
  for (const r of results) {
    const a = r.at.get(n);
    if (!a) continue;
    console.log(
      `| ${r.system} | ${n} | ${mb(a.bytes)} | ${a.firstP50.toFixed(2)} | ${a.lastP50.toFixed(2)} | ${(a.lastP50 / a.firstP50).toFixed(2)} |`,
    );
  }
}
const delta = results.find((r) => r.system === "LangGraph DeltaChannel")?.at.get(1000);
const ours = results.find((r) => r.system === "Outlast append")?.at.get(1000);
if (delta && ours) {
  console.log(
    `\nat 1,000 turns: Outlast stores ${(ours.bytes / delta.bytes).toFixed(3)}× DeltaChannel's bytes (target ≤ 0.5); its last-50 append p50 is ${(ours.lastP50 / ours.firstP50).toFixed(2)}× its first-50 (target ≤ 1.5)`,
  );
}
