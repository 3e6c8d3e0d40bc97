/**
 * Workload 4: enqueue-to-start latency on an idle system. One job at a time: enqueue,
 * wait until its handler runs (timestamped in the same process), pause, repeat. The
 * first probe of each round is a warm-up and is dropped. Systems that poll get fewer
 * probes: each costs them up to a polling interval.
 */
import { alternate } from "../lib/alternate.js";
import { ms, num, table, versus } from "../lib/format.js";
import type { Comparison, Ctx, Section } from "../lib/report.js";
import { median, percentile } from "../lib/stats.js";
import { barChart } from "../lib/svg.js";
import { SYSTEMS, type SystemSpec } from "../systems/index.js";

/**
 * Systems whose workers poll on a timer at their defaults (no LISTEN/NOTIFY or push), and
 * the timer's period: their pause between probes spans one whole period (0.5–1.5×), so
 * each probe lands at a random phase of the poll.
 */
const POLLERS = new Map([
  [SYSTEMS.pgBoss.id, 2_000],
  [SYSTEMS.dbos.id, 1_000],
]);

export async function latency(ctx: Ctx): Promise<Section> {
  const systems = [
    SYSTEMS.outlastPg,
    SYSTEMS.outlastPglite,
    SYSTEMS.graphile,
    SYSTEMS.pgBoss,
    SYSTEMS.bullmq,
    SYSTEMS.dbos,
    SYSTEMS.restate,
  ];
  const samplesFor = (s: SystemSpec) => (POLLERS.has(s.id) ? 6 : ctx.quick ? 20 : 50);
  const cells = await alternate({
    title: "4/6 enqueue-to-start latency",
    systems,
    op: "latency",
    variants: [
      {
        name: "idle",
        args: (s) => ({ samples: samplesFor(s) + 1, gapMs: POLLERS.get(s.id) ?? 25 }),
      },
    ],
    rounds: ctx.rounds,
    timeoutMs: 240_000,
    progress: ctx.progress,
    show: (r) => {
      const xs = r.samplesMs.slice(1);
      return `p50 ${ms(percentile(xs, 50))}, p99 ${ms(percentile(xs, 99))} (${xs.length} probes)`;
    },
  });
  const byId = cells.get("idle")!;
  const summary = new Map<
    string,
    { p50: number; p99: number; n: number; rounds: { p50: number[]; p99: number[] } }
  >();
  for (const [id, c] of byId) {
    if (c.rounds.length === 0) continue;
    const per = c.rounds.map((r) => r.samplesMs.slice(1));
    const rounds = {
      p50: per.map((xs) => percentile(xs, 50)),
      p99: per.map((xs) => percentile(xs, 99)),
    };
    summary.set(id, {
      p50: median(rounds.p50),
      p99: median(rounds.p99),
      n: per.reduce((a, xs) => a + xs.length, 0),
      rounds,
    });
  }
  const ours = summary.get(SYSTEMS.outlastPg.id);
  const rows: string[][] = [];
  const comparisons: Comparison[] = [];
  const failures: Section["failures"] = [];
  for (const spec of systems) {
    const c = byId.get(spec.id)!;
    const s = summary.get(spec.id);
    if (!s) {
      failures.push({ system: spec.label, error: c.error ?? "no result" });
      rows.push([spec.label, "failed", "", "", "", ""]);
      continue;
    }
    const isOurs = spec.id.startsWith("outlast");
    rows.push([
      spec.label,
      ms(s.p50),
      ms(s.p99),
      `${num(s.n)} (${c.rounds.length} rounds)`,
      isOurs || !ours ? "—" : versus(s.p50 / ours.p50, "lower", "higher"),
      isOurs || !ours ? "—" : versus(s.p99 / ours.p99, "lower", "higher"),
    ]);
    if (ours && !spec.id.startsWith("outlast")) {
      for (const q of ["p50", "p99"] as const) {
        comparisons.push({
          workload: `4 · enqueue-to-start latency, ${q}`,
          key: `latency-${q}:${spec.id}`,
          metric: `${q} ms`,
          outlast: ms(ours[q]),
          other: ms(s[q]),
          otherLabel: spec.label,
          advantage: s[q] / ours[q],
          verdict: versus(s[q] / ours[q], "lower", "higher"),
          rounds: { ours: ours.rounds[q], other: s.rounds[q] },
        });
      }
    }
  }
  const chart = barChart({
    title: "Enqueue-to-start latency on an idle system (p50)",
    unit: "ms, median over rounds of each round's p50",
    direction: "lower is better",
    log: true,
    bars: systems.flatMap((spec) => {
      const s = summary.get(spec.id);
      if (!s) return [];
      const per = byId.get(spec.id)!.rounds.map((r) => percentile(r.samplesMs.slice(1), 50));
      return [
        {
          label: spec.label,
          value: s.p50,
          min: Math.min(...per),
          max: Math.max(...per),
          highlight: spec.id.startsWith("outlast"),
          note: `${ms(s.p50)} (p99 ${ms(s.p99)})`,
        },
      ];
    }),
  });
  const body = [
    "One probe job at a time on an idle worker (concurrency 10): the clock starts before the enqueue call and stops when the job's handler begins, both read in the same process; then a pause drawn at random from 12–37 ms before the next probe. The two systems that poll at their defaults get 6 probes a round (each costs them up to a polling interval) and a pause of 0.5–1.5 polling intervals, so each probe lands at a random phase of the poll. p50 and p99 are taken per round, then the median over rounds is shown; with 6 or 50 probes a round, a p99 is that round's slowest probe.",
    "",
    "Enqueue paths: Outlast `RunService.submit` (INSERT + NOTIFY; the worker LISTENs); graphile-worker `addJob` (NOTIFY on insert); pg-boss `send` (workers poll every 2 s by default); BullMQ `Queue.add` (workers block on Redis); DBOS `startWorkflow` on a DBOS queue (queues poll every 1 s by default); Restate `POST /bench/probe/send` to the ingress (pushed to the SDK endpoint).",
    "",
    table(["system", "p50", "p99", "probes", "Outlast p50 vs this", "Outlast p99 vs this"], rows),
  ].join("\n");
  return {
    id: "latency",
    title: "4. Enqueue-to-start latency (idle system)",
    body,
    charts: [{ file: "latency.svg", svg: chart }],
    comparisons,
    failures,
  };
}
