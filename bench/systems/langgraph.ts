/**
 * LangGraph.js: a 10-node linear StateGraph whose nodes do what Outlast's workload-3
 * agent does (bench/lib/graph.ts). With persistence: compiled with PostgresSaver on the
 * local PostgreSQL (a fresh database per round, default durability); without: compiled
 * with no checkpointer. One invocation at a time, each on a new thread.
 */
import { randomUUID } from "node:crypto";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { type GraphState, graphNode } from "../lib/graph.js";
import { freshDb } from "../lib/pg.js";
import { closedLoop } from "../lib/stats.js";
import type { AdapterFactory } from "../lib/types.js";

const State = Annotation.Root({
  n: Annotation<number>,
  trail: Annotation<string[]>,
});

function build(nodes: number) {
  // biome-ignore lint/suspicious/noExplicitAny: node names are built at run time
  const g: any = new StateGraph(State);
  for (let i = 0; i < nodes; i++) g.addNode(`node${i}`, (s: GraphState) => graphNode(s, i));
  g.addEdge(START, "node0");
  for (let i = 1; i < nodes; i++) g.addEdge(`node${i - 1}`, `node${i}`);
  g.addEdge(`node${nodes - 1}`, END);
  return g as StateGraph<typeof State.spec>;
}

export const create: AdapterFactory = () => ({
  async checkpoint({ nodes, invocations, persist }) {
    const db = persist ? await freshDb() : undefined;
    const saver = db ? PostgresSaver.fromConnString(db.url) : undefined;
    try {
      await saver?.setup();
      const graph = build(nodes).compile(saver ? { checkpointer: saver } : {});
      const once = async () => {
        const out = await graph.invoke(
          { n: 0, trail: [] },
          { configurable: { thread_id: randomUUID() } },
        );
        if (out.n !== nodes) throw new Error(`graph ended with n=${out.n}`);
      };
      await once(); // warm-up
      const ms = await closedLoop(invocations, 1, once);
      return { msPerInvocation: ms / invocations };
    } finally {
      await saver?.end();
      await db?.drop();
    }
  },
});
