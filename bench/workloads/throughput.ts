/**
 * Workload 1: trivial jobs per second at concurrency 10. Jobs are enqueued in bulk
 * before the worker starts; the clock runs from starting the worker until the last job
 * finished, or stops at the cap for systems too slow to finish (their rate is what they
 * did within the cap).
 */
import { alternate } from "../lib/alternate.js";
import { num, range, table, versus } from "../lib/format.js";
import type { Comparison, Ctx, Section } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { barChart } from "../lib/svg.js";
import { SYSTEMS } from "../systems/index.js";

export async function throughput(ctx: Ctx): Promise<Section> {
  const jobs = ctx.quick ? 2_000 : 8_000;
  const capMs = ctx.quick ? 3_000 : 5_000;
  const systems = [
    SYSTEMS.outlastPg,
    SYSTEMS.outlastPglite,
    SYSTEMS.graphile,
    SYSTEMS.pgBoss,
    SYSTEMS.pgBossTuned,
    SYSTEMS.bullmq,
  ];
  const cells = await alternate({
    title: "1/6 trivial jobs/s",
    systems,
    op: "throughput",
    variants: [{ name: "c10", args: { jobs, concurrency: 10, capMs } }],
    rounds: ctx.rounds,
    timeoutMs: 180_000,
    progress: ctx.progress,
    show: (r) =>
      `${num(r.perSec)} jobs/s (${num(r.done)} jobs in ${num(r.seconds, 1)} s${r.statementsPerJob !== undefined ? `, ${num(r.statementsPerJob, 2)} statements/job` : ""})`,
  });
  const byId = cells.get("c10")!;
  const rate = (id: string) => median(byId.get(id)!.rounds.map((r) => r.perSec));
  const ours = rate(SYSTEMS.outlastPg.id);
  const rows: string[][] = [];
  const comparisons: Comparison[] = [];
  const failures: Section["failures"] = [];
  for (const cell of byId.values()) {
    const { spec } = cell;
    if (cell.error && cell.rounds.length === 0) {
      failures.push({ system: spec.label, error: cell.error });
      rows.push([spec.label, "failed", "", "", "", "—"]);
      continue;
    }
    const rates = cell.rounds.map((r) => r.perSec);
    const med = median(rates);
    const capped = cell.rounds.some((r) => r.done < jobs);
    const spj = median(
      cell.rounds.flatMap((r) => (r.statementsPerJob === undefined ? [] : [r.statementsPerJob])),
    );
    const adv = ours / med;
    const isOurs = spec.id.startsWith("outlast");
    rows.push([
      spec.label,
      num(med),
      range(rates, (x) => num(x)),
      `${cell.rounds.length}${capped ? ` (capped at ${capMs / 1000} s)` : ""}`,
      Number.isFinite(spj) ? num(spj, 2) : "—",
      isOurs ? "—" : versus(adv, "faster", "slower"),
    ]);
    if (!spec.id.startsWith("outlast")) {
      comparisons.push({
        workload: "1 · trivial jobs/s, concurrency 10",
        key: `throughput:${spec.id}`,
        metric: "jobs/s",
        outlast: `${num(ours)} jobs/s`,
        other: `${num(med)} jobs/s`,
        otherLabel: spec.label,
        advantage: adv,
        verdict: versus(adv, "faster", "slower"),
        rounds: { ours: byId.get(SYSTEMS.outlastPg.id)!.rounds.map((r) => r.perSec), other: rates },
      });
    }
  }
  const chart = barChart({
    title: "Trivial jobs per second, concurrency 10",
    unit: "jobs/s (median of rounds)",
    direction: "higher is better",
    log: true,
    bars: [...byId.values()]
      .filter((c) => c.rounds.length > 0)
      .map((c) => {
        const xs = c.rounds.map((r) => r.perSec);
        return {
          label: c.spec.label,
          value: median(xs),
          min: Math.min(...xs),
          max: Math.max(...xs),
          highlight: c.spec.id.startsWith("outlast"),
          note: num(median(xs)),
        };
      }),
  });
  const body = [
    `${num(jobs)} no-op jobs enqueued in bulk, then one worker process with 10 jobs at once; rate = jobs finished ÷ time from starting the worker to the last completion (or to the ${capMs / 1000} s cap). "Statements/job" counts the statements the process sent through node-postgres during the measurement, divided by the jobs finished (client-side count; PostgreSQL-backed systems only).`,
    "",
    table(
      [
        "system",
        "jobs/s (median)",
        "range of rounds",
        "rounds",
        "statements/job",
        "Outlast (PostgreSQL) vs this",
      ],
      rows,
    ),
    "",
    "pg-boss 10 at its defaults waits its polling interval (2 s) after every fetch, even a full one (`src/worker.js`), so ten work() loops of one job each top out near 10 jobs per 2 s. The tuned row (batchSize 50, polling at its 0.5 s minimum — 500 jobs in flight, not 10) shows what pg-boss does when set up for throughput. pg-boss 11 and later require Node ≥ 22 (`npm view pg-boss engines`), so 10.4 is the newest that runs on this machine's Node 20.",
  ].join("\n");
  return {
    id: "throughput",
    title: "1. Trivial jobs per second (concurrency 10)",
    body,
    charts: [{ file: "throughput.svg", svg: chart }],
    comparisons,
    failures,
  };
}
