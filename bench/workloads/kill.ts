/**
 * Workload 5: kill -9 to resumed elsewhere, each system at its default settings. A victim
 * process takes a job and hangs inside it; a second process of the same system (the
 * rescuer) is started and ready; the victim gets SIGKILL; the clock stops when the job's
 * handler begins again in the rescuer. Outlast's job is a two-step agent: step 1 is
 * journaled by the victim, the rescuer replays it and the clock stops when step 2 runs.
 *
 * BullMQ and graphile-worker wait on timers of tens of seconds or hours, so their rounds
 * run side by side (and Outlast's rounds run during that wait): nothing CPU-bound is being
 * measured, only how long each takes to notice a dead worker.
 */
import { randomBytes } from "node:crypto";
import { ms, num, table } from "../lib/format.js";
import { Host } from "../lib/hosts.js";
import { freshDb } from "../lib/pg.js";
import type { Comparison, Ctx, Section } from "../lib/report.js";
import { median } from "../lib/stats.js";
import { type Bar, barChart } from "../lib/svg.js";
import { SYSTEMS, type SystemSpec } from "../systems/index.js";

interface Outcome {
  latencies: number[];
  /** Rounds in which the job was not resumed within the wait. */
  notResumed: number;
  waitedMs: number;
  error?: string;
}

async function round(spec: SystemSpec, waitMs: number): Promise<number | null> {
  const db = spec.id === SYSTEMS.bullmq.id ? undefined : await freshDb();
  const args = {
    databaseUrl: db?.url ?? "",
    queue: `bench-kill-${randomBytes(4).toString("hex")}`,
  };
  const victim = await Host.start(spec);
  let rescuer: Host | undefined;
  try {
    await victim.call("victim", args, 60_000);
    rescuer = await Host.start(spec);
    await rescuer.call("rescuer", args, 60_000);
    const killedAt = Date.now();
    victim.child.kill("SIGKILL");
    const r = await rescuer.call("rescued", { ...args, timeoutMs: waitMs }, waitMs + 30_000);
    return r.resumedAt === null ? null : r.resumedAt - killedAt;
  } finally {
    victim.child.kill("SIGKILL");
    await victim.exited;
    await rescuer?.close();
    await db?.drop().catch(() => {});
  }
}

async function rounds(
  spec: SystemSpec,
  n: number,
  waitMs: number,
  parallel: boolean,
  ctx: Ctx,
): Promise<Outcome> {
  const out: Outcome = { latencies: [], notResumed: 0, waitedMs: waitMs };
  const one = async (i: number) => {
    try {
      const l = await round(spec, waitMs);
      if (l === null) {
        out.notResumed++;
        ctx.progress.log(`${spec.label}, round ${i + 1}: not resumed within ${ms(waitMs)}`);
      } else {
        out.latencies.push(l);
        ctx.progress.log(`${spec.label}, round ${i + 1}: resumed ${ms(l)} after the kill`);
      }
    } catch (err) {
      out.error = (err as Error).message;
      ctx.progress.log(`${spec.label}, round ${i + 1}: failed — ${out.error}`);
    }
  };
  const idx = Array.from({ length: n }, (_, i) => i);
  if (parallel) await Promise.all(idx.map(one));
  else for (const i of idx) await one(i);
  return out;
}

export async function kill(ctx: Ctx): Promise<Section> {
  const n = ctx.rounds;
  const bullWait = ctx.quick ? 70_000 : 90_000;
  const graphileWait = ctx.quick ? 60_000 : 65_000;
  ctx.progress.status(
    `5/6 kill -9 → resumed · BullMQ (${n} rounds side by side) and graphile-worker waiting on their timers; Outlast rounds meanwhile`,
  );
  const [outlast, bull, graphile] = await Promise.all([
    rounds(SYSTEMS.outlastPg, n, 30_000, false, ctx),
    rounds(SYSTEMS.bullmq, n, bullWait, true, ctx),
    rounds(SYSTEMS.graphile, 1, graphileWait, false, ctx),
  ]);
  const ours = median(outlast.latencies);
  const GRAPHILE_DEFAULT_MS = 4 * 3600_000;
  const rows = [
    [
      SYSTEMS.outlastPg.label,
      "worker holds a session advisory lock; peers' reaper checks every 500 ms (heartbeat 2 s and lease TTL 15 s cover hangs)",
      describe(outlast),
    ],
    [
      SYSTEMS.bullmq.label,
      "lockDuration 30 s, stalledInterval 30 s, maxStalledCount 1",
      describe(bull),
    ],
    [
      SYSTEMS.graphile.label,
      "a locked job is reclaimable once `locked_at` is 4 h old (`get_job` job_expiry); stale-lock sweep every 8–10 min",
      `${describe(graphile)}; at the default it resumes after ≥ 4 h, not waited for`,
    ],
  ];
  const comparisons: Comparison[] = [];
  const failures: Section["failures"] = [];
  for (const [spec, o] of [
    [SYSTEMS.outlastPg, outlast],
    [SYSTEMS.bullmq, bull],
    [SYSTEMS.graphile, graphile],
  ] as const) {
    if (o.error && o.latencies.length + o.notResumed === 0)
      failures.push({ system: spec.label, error: o.error });
  }
  if (outlast.latencies.length) {
    if (bull.latencies.length) {
      const b = median(bull.latencies);
      comparisons.push({
        workload: "5 · kill -9 → resumed elsewhere",
        key: "kill:bullmq",
        metric: "time to resume",
        outlast: ms(ours),
        other: ms(b),
        otherLabel: SYSTEMS.bullmq.label,
        advantage: b / ours,
        verdict: `${num(b / ours, 0)}× faster`,
      });
    }
    if (graphile.latencies.length === 0 && graphile.notResumed > 0) {
      comparisons.push({
        workload: "5 · kill -9 → resumed elsewhere",
        key: "kill:graphile-worker",
        metric: "time to resume",
        outlast: ms(ours),
        other: `≥ 4 h (default; not resumed within ${ms(graphile.waitedMs)} here)`,
        otherLabel: SYSTEMS.graphile.label,
        advantage: GRAPHILE_DEFAULT_MS / ours,
        verdict: `≥ ${num(GRAPHILE_DEFAULT_MS / ours, 0)}× faster`,
      });
    }
  }
  const bars = [
    { spec: SYSTEMS.outlastPg, xs: outlast.latencies },
    { spec: SYSTEMS.bullmq, xs: bull.latencies },
  ]
    .filter((b) => b.xs.length > 0)
    .map(
      (b): Bar => ({
        label: b.spec.label,
        value: median(b.xs),
        min: Math.min(...b.xs),
        max: Math.max(...b.xs),
        highlight: b.spec.id.startsWith("outlast"),
        note: ms(median(b.xs)),
      }),
    );
  if (graphile.latencies.length === 0)
    bars.push({
      label: `${SYSTEMS.graphile.label} (default, not measured)`,
      value: GRAPHILE_DEFAULT_MS,
      min: GRAPHILE_DEFAULT_MS,
      max: GRAPHILE_DEFAULT_MS,
      highlight: false,
      note: "≥ 4 h (configured default)",
      notMeasured: true,
    });
  const chart = barChart({
    title: "kill -9 → job resumed by another worker",
    unit: "time from SIGKILL to the job running again",
    direction: "lower is better",
    log: true,
    bars,
  });
  const body = [
    "Each round: a victim process (one adapter process, at the system's defaults) takes one job and hangs inside it; a second process of the same system is started and is ready; the victim gets SIGKILL; the clock stops when the job's handler starts again in the second process. For Outlast the job is a two-step agent — the victim journals step 1 and hangs in step 2; the rescuer replays step 1 from the journal and the clock stops when step 2 starts. Outlast on PostgreSQL; a fresh database (or Redis queue) per round.",
    "",
    table(["system", "what decides, at its defaults", "kill → resumed (median; each round)"], rows),
  ].join("\n");
  return {
    id: "kill",
    title: "5. kill -9 to resumed elsewhere (defaults)",
    body,
    charts: [{ file: "kill.svg", svg: chart }],
    comparisons,
    failures,
  };
}

function describe(o: Outcome): string {
  const parts: string[] = [];
  if (o.latencies.length)
    parts.push(`**${ms(median(o.latencies))}** (${o.latencies.map((l) => ms(l)).join(", ")})`);
  if (o.notResumed) parts.push(`${o.notResumed} round(s) not resumed within ${ms(o.waitedMs)}`);
  if (o.error) parts.push(`error: \`${o.error}\``);
  return parts.join("; ") || "—";
}
