/**
 * Where Outlast's time goes, measured in the same run as the comparisons, so that the
 * "where Outlast is behind" section can cite figures rather than guesses:
 *   - V8's CPU profiler over one round of trivial runs: how much of the wall time the
 *     worker process is busy, and with what;
 *   - an A/B of the same workloads with `synchronous_commit=off` on the round's database
 *     (alternating, medians): what the WAL flush behind each commit costs.
 * The `off` figures are diagnostics only and never appear in a comparison: with it, a
 * crash can lose the last commits, which Outlast does not accept for its journal.
 */
import { alternate } from "../lib/alternate.js";
import { ms, num, table } from "../lib/format.js";
import { Host } from "../lib/hosts.js";
import type { Ctx, Section } from "../lib/report.js";
import { median, percentile } from "../lib/stats.js";
import type { ThroughputResult } from "../lib/types.js";
import { SYSTEMS } from "../systems/index.js";

export interface ProfileData {
  idleShare: number;
  busy: [string, number][];
  statementsPerJob: number;
  tputOn: number;
  tputOff: number;
  latOn: { p50: number; p99: number; enqueue: number };
  latOff: { p50: number; p99: number; enqueue: number };
}

export async function profile(ctx: Ctx): Promise<{ section: Section; data?: ProfileData }> {
  const jobs = ctx.quick ? 2_000 : 5_000;
  const probes = ctx.quick ? 20 : 40;
  ctx.progress.status("profile · one profiled round of trivial runs (Outlast, PostgreSQL)");
  const host = await Host.start(SYSTEMS.outlastPg);
  let cpu: ThroughputResult;
  try {
    cpu = await host.call(
      "throughput",
      { jobs, concurrency: 10, capMs: 20_000, profile: true },
      120_000,
    );
  } finally {
    await host.close();
  }
  const pair = [SYSTEMS.outlastPg, SYSTEMS.outlastPgAsync];
  const tp = await alternate({
    title: "profile · synchronous_commit A/B, trivial runs",
    systems: pair,
    op: "throughput",
    variants: [{ name: "c10", args: { jobs, concurrency: 10, capMs: 20_000 } }],
    rounds: ctx.rounds,
    timeoutMs: 120_000,
    progress: ctx.progress,
    show: (r) => `${num(r.perSec)} jobs/s`,
  });
  const lat = await alternate({
    title: "profile · synchronous_commit A/B, enqueue-to-start",
    systems: pair,
    op: "latency",
    variants: [{ name: "idle", args: { samples: probes + 1, gapMs: 25 } }],
    rounds: ctx.rounds,
    timeoutMs: 120_000,
    progress: ctx.progress,
    show: (r) => {
      const xs = r.samplesMs.slice(1);
      return `p50 ${ms(percentile(xs, 50))}, enqueue call p50 ${ms(percentile(r.enqueueMs?.slice(1) ?? [], 50))}`;
    },
  });
  const rate = (id: string) =>
    median(
      tp
        .get("c10")!
        .get(id)!
        .rounds.map((r) => r.perSec),
    );
  const latOf = (id: string) => {
    const rounds = lat.get("idle")!.get(id)!.rounds;
    return {
      p50: median(rounds.map((r) => percentile(r.samplesMs.slice(1), 50))),
      p99: median(rounds.map((r) => percentile(r.samplesMs.slice(1), 99))),
      enqueue: median(rounds.map((r) => percentile(r.enqueueMs?.slice(1) ?? [], 50))),
    };
  };
  const on = SYSTEMS.outlastPg.id;
  const off = SYSTEMS.outlastPgAsync.id;
  const data: ProfileData | undefined = cpu.cpu
    ? {
        idleShare: cpu.cpu.idleShare,
        busy: cpu.cpu.buckets,
        statementsPerJob: cpu.statementsPerJob ?? Number.NaN,
        tputOn: rate(on),
        tputOff: rate(off),
        latOn: latOf(on),
        latOff: latOf(off),
      }
    : undefined;
  const pct = (x: number) => `${num(100 * x, 0)}%`;
  const busy = data
    ? data.busy
        .filter(([, v]) => v >= 0.005)
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(", ")
    : "";
  const body = data
    ? [
        `**CPU profile** (V8's sampling profiler, the one \`node --cpu-prof\` uses, started and stopped around the measurement through node:inspector) of one round of ${num(jobs)} trivial runs at concurrency 10 on PostgreSQL: ${num(cpu.perSec)} jobs/s, ${num(data.statementsPerJob, 2)} statements per job. The worker process was **idle ${pct(data.idleShare)}** of the ${num(cpu.seconds, 1)} s — waiting on PostgreSQL. Busy: ${busy}.`,
        "",
        `**synchronous_commit A/B** (the same workloads on a database with \`synchronous_commit=off\`, alternating with the default, ${ctx.rounds} rounds each, medians): with \`off\` a commit returns before its WAL is flushed to disk, so the difference is what the flush costs. Diagnostic only; Outlast keeps the default.`,
        "",
        table(
          ["measurement", "synchronous_commit=on (default)", "off", "on ÷ off"],
          [
            [
              `trivial runs/s (${num(jobs)} runs, concurrency 10)`,
              num(data.tputOn),
              num(data.tputOff),
              `${num(data.tputOff / data.tputOn, 2)}× faster with off`,
            ],
            [
              `enqueue-to-start p50 (${probes} probes a round, as in workload 4)`,
              ms(data.latOn.p50),
              ms(data.latOff.p50),
              `${num(data.latOn.p50 / data.latOff.p50, 2)}×`,
            ],
            [
              `enqueue-to-start p99 (slowest of ${probes})`,
              ms(data.latOn.p99),
              ms(data.latOff.p99),
              `${num(data.latOn.p99 / data.latOff.p99, 2)}×`,
            ],
            [
              "of which the enqueue call (INSERT + NOTIFY, committed), p50",
              ms(data.latOn.enqueue),
              ms(data.latOff.enqueue),
              `${num(data.latOn.enqueue / data.latOff.enqueue, 2)}×`,
            ],
          ],
        ),
      ].join("\n")
    : "The profile could not be taken in this run.";
  return {
    section: {
      id: "profile",
      title: "7. Where Outlast's time goes (profiles from this run)",
      body,
      charts: [],
      comparisons: [],
      failures: [],
    },
    data,
  };
}
