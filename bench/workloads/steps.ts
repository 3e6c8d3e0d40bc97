/**
 * Workload 2: durable step overhead. A workflow of 10 no-op durable steps, run one at a
 * time (latency) and by 10 closed-loop clients (throughput). Outlast goes through its
 * queue (submit, a worker claims, steps journaled, finish, waiter notified); DBOS runs
 * the workflow in the calling process (its direct-call path); Restate goes through its
 * ingress to the SDK endpoint and back.
 */
import { alternate } from "../lib/alternate.js";
import { ms, num, range, table, versus } from "../lib/format.js";
import type { Comparison, Ctx, Section } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { barChart } from "../lib/svg.js";
import { SYSTEMS } from "../systems/index.js";

const STEPS = 10;
/**
 * A longer workflow, run one at a time beside the 10-step one: the difference of the two
 * divided by the 30 extra steps is what one more durable step costs, without the
 * workflow's start and finish (the per-step figure DESIGN.md quotes for Restate and DBOS).
 */
const LONG_STEPS = 40;

export async function steps(ctx: Ctx): Promise<Section> {
  const systems = [SYSTEMS.outlastPg, SYSTEMS.dbos, SYSTEMS.restate];
  const cells = await alternate({
    title: "2/6 durable steps",
    systems,
    op: "steps",
    variants: [
      {
        name: "sequential",
        args: { steps: STEPS, workflows: ctx.quick ? 15 : 40, concurrency: 1 },
      },
      {
        name: "concurrency 10",
        args: { steps: STEPS, workflows: ctx.quick ? 50 : 200, concurrency: 10 },
      },
      {
        name: "sequential, long",
        args: { steps: LONG_STEPS, workflows: ctx.quick ? 6 : 15, concurrency: 1 },
      },
    ],
    rounds: ctx.rounds,
    timeoutMs: 180_000,
    progress: ctx.progress,
    show: (r) =>
      `${ms(r.msPerWorkflow)}/workflow, ${num(r.workflowsPerSec, 1)} workflows/s${r.statementsPerWorkflow !== undefined ? `, ${num(r.statementsPerWorkflow, 1)} statements/workflow` : ""}`,
  });
  const seq = cells.get("sequential")!;
  const par = cells.get("concurrency 10")!;
  const long = cells.get("sequential, long")!;
  /** One more durable step, one workflow at a time: (long − short) ÷ the extra steps. */
  const marginal = (id: string) => {
    const a = seq.get(id)!.rounds.map((r) => r.msPerWorkflow);
    const b = long.get(id)!.rounds.map((r) => r.msPerWorkflow);
    return a.length && b.length ? (median(b) - median(a)) / (LONG_STEPS - STEPS) : Number.NaN;
  };
  const ourStep = marginal(SYSTEMS.outlastPg.id);
  const ourSeq = median(seq.get(SYSTEMS.outlastPg.id)!.rounds.map((r) => r.msPerWorkflow));
  const ourPar = median(par.get(SYSTEMS.outlastPg.id)!.rounds.map((r) => r.workflowsPerSec));
  const rows: string[][] = [];
  const comparisons: Comparison[] = [];
  const failures: Section["failures"] = [];
  for (const spec of systems) {
    const s = seq.get(spec.id)!;
    const p = par.get(spec.id)!;
    const err = s.error ?? p.error;
    if (err && s.rounds.length + p.rounds.length === 0) {
      failures.push({ system: spec.label, error: err });
      rows.push([spec.label, "failed", "", "", "", "", "", "", "", ""]);
      continue;
    }
    const lat = s.rounds.map((r) => r.msPerWorkflow);
    const tput = p.rounds.map((r) => r.workflowsPerSec);
    const mLat = median(lat);
    const mTput = median(tput);
    const stm = median(
      s.rounds.flatMap((r) =>
        r.statementsPerWorkflow === undefined ? [] : [r.statementsPerWorkflow],
      ),
    );
    const ours = spec.id === SYSTEMS.outlastPg.id;
    const step = marginal(spec.id);
    rows.push([
      spec.label,
      `${ms(mLat)} (${range(lat, ms) || "1 round"})`,
      ms(mLat / STEPS),
      ours ? "—" : versus(mLat / ourSeq, "faster", "slower"),
      Number.isFinite(step) ? ms(step) : "—",
      ours || !Number.isFinite(step) ? "—" : versus(step / ourStep, "less", "more"),
      `${num(mTput, 1)} (${range(tput, (x) => num(x, 1)) || "1 round"})`,
      ms(1000 / (mTput * STEPS)),
      ours ? "—" : versus(ourPar / mTput, "faster", "slower"),
      Number.isFinite(stm) ? num(stm, 1) : "—",
    ]);
    if (err) failures.push({ system: `${spec.label} (partly)`, error: err });
    if (!ours) {
      comparisons.push(
        {
          workload: "2 · 10-step workflow, one at a time",
          key: `steps-seq:${spec.id}`,
          metric: "ms per workflow",
          outlast: ms(ourSeq),
          other: ms(mLat),
          otherLabel: spec.label,
          advantage: mLat / ourSeq,
          verdict: versus(mLat / ourSeq, "faster", "slower"),
          rounds: {
            ours: seq.get(SYSTEMS.outlastPg.id)!.rounds.map((r) => r.msPerWorkflow),
            other: lat,
          },
        },
        ...(Number.isFinite(step) && Number.isFinite(ourStep)
          ? [
              {
                workload: "2 · one more durable step, one workflow at a time",
                key: `steps-marginal:${spec.id}`,
                metric: `ms per step (${LONG_STEPS}- vs ${STEPS}-step workflows)`,
                outlast: ms(ourStep),
                other: ms(step),
                otherLabel: spec.label,
                advantage: step / ourStep,
                verdict: versus(step / ourStep, "less", "more"),
              },
            ]
          : []),
        {
          workload: "2 · 10-step workflows, concurrency 10",
          key: `steps-c10:${spec.id}`,
          metric: "workflows/s",
          outlast: num(ourPar, 1),
          other: num(mTput, 1),
          otherLabel: spec.label,
          advantage: ourPar / mTput,
          verdict: versus(ourPar / mTput, "faster", "slower"),
          rounds: {
            ours: par.get(SYSTEMS.outlastPg.id)!.rounds.map((r) => r.workflowsPerSec),
            other: tput,
          },
        },
      );
    }
  }
  const bar = (id: string, label: string, xs: number[], f: (x: number) => string) => ({
    label,
    value: median(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    highlight: id.startsWith("outlast"),
    note: f(median(xs)),
  });
  const charts = [
    {
      file: "steps-sequential.svg",
      svg: barChart({
        title: "10-step durable workflow, one at a time",
        unit: "ms per workflow",
        direction: "lower is better",
        bars: systems
          .filter((s) => seq.get(s.id)!.rounds.length > 0)
          .map((s) =>
            bar(
              s.id,
              s.label,
              seq.get(s.id)!.rounds.map((r) => r.msPerWorkflow),
              ms,
            ),
          ),
      }),
    },
    {
      file: "steps-concurrent.svg",
      svg: barChart({
        title: "10-step durable workflows, 10 clients",
        unit: "workflows per second",
        direction: "higher is better",
        bars: systems
          .filter((s) => par.get(s.id)!.rounds.length > 0)
          .map((s) =>
            bar(
              s.id,
              s.label,
              par.get(s.id)!.rounds.map((r) => r.workflowsPerSec),
              (x) => num(x, 1),
            ),
          ),
      }),
    },
  ];
  const body = [
    `A workflow of ${STEPS} durable no-op steps (Outlast \`ctx.step\`, DBOS \`DBOS.runStep\`, Restate \`ctx.run\`). Sequential: one client runs ${ctx.quick ? 15 : 40} workflows one after another (latency of a whole workflow, start to result). Concurrency 10: 10 clients each run workflows back to back, ${ctx.quick ? 50 : 200} in all. "ms/step" divides by ${STEPS} and so includes each workflow's start and finish; "one more step" is the difference between ${LONG_STEPS}-step workflows (${ctx.quick ? 6 : 15} run one after another in the same rounds) and the ${STEPS}-step ones, divided by the ${LONG_STEPS - STEPS} extra steps: the cost of a durable step alone. Statements/workflow: what the process sent through node-postgres, client side included (PostgreSQL-backed systems only; Restate keeps its journal in its own log and RocksDB, not in PostgreSQL).`,
    "",
    "How each is driven: Outlast through its queue (`RunService.submit`, a worker in the same process claims the run, journals the steps with group commit, finishes it, and `waitFor` hears the NOTIFY); DBOS by calling the registered workflow function in-process (its direct path, no queue); Restate through its HTTP ingress to the SDK endpoint over HTTP/2 and back.",
    "",
    table(
      [
        "system",
        "sequential: ms/workflow (range)",
        "ms/step",
        "Outlast vs this",
        "one more step (ms)",
        "Outlast vs this",
        "concurrency 10: workflows/s (range)",
        "amortized ms/step",
        "Outlast vs this",
        "statements/workflow (sequential)",
      ],
      rows,
    ),
  ].join("\n");
  return {
    id: "steps",
    title: "2. Durable step overhead (10-step workflow)",
    body,
    charts,
    comparisons,
    failures,
  };
}
