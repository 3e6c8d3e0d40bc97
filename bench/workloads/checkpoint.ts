/**
 * Workload 3: checkpoint overhead. A 10-node linear LangGraph.js graph with PostgresSaver
 * against the same logic as an Outlast agent (one `ctx.step` per node), each against its
 * own run without persistence: LangGraph compiled without a checkpointer, and for
 * Outlast the node functions called in order (Outlast has no mode without a store).
 */
import { alternate } from "../lib/alternate.js";
import { ms, num, table, versus } from "../lib/format.js";
import type { Comparison, Ctx, Section } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { barChart } from "../lib/svg.js";
import { SYSTEMS } from "../systems/index.js";

const NODES = 10;

export async function checkpoint(ctx: Ctx): Promise<Section> {
  const systems = [SYSTEMS.langgraph, SYSTEMS.outlastPg];
  const cells = await alternate({
    title: "3/6 checkpoints",
    systems,
    op: "checkpoint",
    variants: [
      { name: "no persistence", args: { nodes: NODES, invocations: 200, persist: false } },
      {
        name: "persisted",
        args: { nodes: NODES, invocations: ctx.quick ? 15 : 40, persist: true },
      },
    ],
    rounds: ctx.rounds,
    timeoutMs: 180_000,
    progress: ctx.progress,
    show: (r) => `${ms(r.msPerInvocation)} per invocation`,
  });
  const plain = cells.get("no persistence")!;
  const saved = cells.get("persisted")!;
  const stats = new Map<string, { plain: number; saved: number; added: number }>();
  const rows: string[][] = [];
  const failures: Section["failures"] = [];
  for (const spec of systems) {
    const a = plain.get(spec.id)!;
    const b = saved.get(spec.id)!;
    const err = a.error ?? b.error;
    if (err) failures.push({ system: spec.label, error: err });
    if (a.rounds.length === 0 || b.rounds.length === 0) {
      rows.push([spec.label, "failed", "", "", "", ""]);
      continue;
    }
    const p = median(a.rounds.map((r) => r.msPerInvocation));
    const s = median(b.rounds.map((r) => r.msPerInvocation));
    stats.set(spec.id, { plain: p, saved: s, added: s - p });
    rows.push([spec.label, ms(p), ms(s), `${num(s / p, 1)}×`, ms(s - p), ms((s - p) / NODES)]);
  }
  const comparisons: Comparison[] = [];
  const ours = stats.get(SYSTEMS.outlastPg.id);
  const lg = stats.get(SYSTEMS.langgraph.id);
  if (ours && lg) {
    comparisons.push({
      workload: "3 · 10-node graph, persisted vs not",
      key: "checkpoint:langgraph",
      metric: "ms added by persistence per invocation",
      outlast: ms(ours.added),
      other: ms(lg.added),
      otherLabel: SYSTEMS.langgraph.label,
      advantage: lg.added / ours.added,
      verdict: versus(lg.added / ours.added, "less", "more"),
    });
  }
  const chart = barChart({
    title: "10-node graph: time per invocation",
    unit: "ms per invocation",
    direction: "lower is better",
    bars: systems.flatMap((spec) => {
      const st = stats.get(spec.id);
      if (!st) return [];
      const hl = spec.id.startsWith("outlast");
      const name = spec.id === "langgraph" ? "LangGraph.js" : "Outlast";
      return [
        { label: `${name}, no persistence`, value: st.plain, highlight: hl, note: ms(st.plain) },
        {
          label:
            spec.id === "langgraph" ? "LangGraph.js + PostgresSaver" : "Outlast agent (PostgreSQL)",
          value: st.saved,
          highlight: hl,
          note: ms(st.saved),
        },
      ];
    }),
  });
  const body = [
    `Each node returns \`{ n: n + 1, trail: [...trail, name] }\` (bench/lib/graph.ts). One invocation at a time, each on a new thread (LangGraph \`thread_id\`) or a new run (Outlast, submitted and awaited through its queue as in workload 2); ${ctx.quick ? 15 : 40} persisted and 200 unpersisted invocations per round after one warm-up. PostgresSaver on a fresh database per round. LangGraph runs at its default durability, \`"async"\`: a node's checkpoint is written while the next node runs, and \`invoke\` returns once all are written (node_modules/@langchain/langgraph/dist/pregel/index.js); Outlast writes each step's journal entry before the agent goes on, so its durability is the stricter of the two.`,
    "",
    table(
      [
        "system",
        "no persistence",
        "persisted",
        "slowdown",
        "added per invocation",
        "added per node",
      ],
      rows,
    ),
    "",
    "The fair comparison is the time persistence adds (“added”), since the two baselines differ: LangGraph's baseline is its own graph engine without a checkpointer, Outlast's is the bare node functions (a few microseconds), so Outlast's slowdown factor is large by construction and says little.",
  ].join("\n");
  return {
    id: "checkpoint",
    title: "3. Checkpoint overhead (LangGraph.js PostgresSaver vs an Outlast agent)",
    body,
    charts: [{ file: "checkpoint.svg", svg: chart }],
    comparisons,
    failures,
  };
}
