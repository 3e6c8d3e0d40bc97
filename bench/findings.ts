/**
 * Why Outlast is behind where it is behind. Keyed `${comparison key}` (`throughput:bullmq`)
 * or by workload alone (`latency-p50`); the report prints the finding under every
 * comparison Outlast loses in the run, and says plainly when a loss was not profiled.
 *
 * Figures come from the profile section of the same run (bench/workloads/profile.ts)
 * where they can; the rest from profiling sessions on this machine (2026-11-28), named
 * as such:
 *  - auto_explain (log_analyze, 1 % sample) on a round of 10,000 trivial runs: the
 *    finish-and-claim statement executed in ~0.9 ms, 426 shared-buffer hits, updating 20
 *    rows (10 finished, 10 claimed) and their indexes; log_min_duration_statement on the
 *    same round: 1,000 such statements, server time median 2.2 ms, 2.6 s of a 5.8 s round.
 *  - enqueue-to-start broken down by timestamps (3 alternating pairs × 100 probes):
 *    synchronous_commit=on p50 3.7–4.3 ms, off 2.6–3.0 ms; p99 12–15 ms on, 9–16 ms off.
 */
import type { Machine } from "./lib/machine.js";
import type { ProfileData } from "./workloads/profile.js";

const pct = (x: number) => `${Math.round(100 * x)}%`;
const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
const f1 = (x: number) => x.toFixed(1);

export function findings(p: ProfileData | undefined, m: Machine): Record<string, string> {
  const redis = `this Redis runs with ${m.redisPersistence}`;
  const noPersistence =
    /appendonly no/.test(m.redisPersistence) && /save ""/.test(m.redisPersistence);
  const redisDurability = noPersistence
    ? `${redis}, so a BullMQ job never touches the disk and a Redis crash loses every job`
    : `${redis}`;
  if (!p) {
    return {
      "throughput:bullmq": `Profile not available in this run (section 7 failed). ${redisDurability}.`,
    };
  }
  const ownSide = `Outlast's side was profiled in this run (section 7: its worker was idle ${pct(p.idleShare)} of a throughput round, waiting on PostgreSQL; ${p.statementsPerJob.toFixed(2)} statements per job); the other system's was not, so the cause of this gap is not established.`;
  const flushShare = 1 - p.tputOn / p.tputOff;
  const latency = `An Outlast enqueue-to-start is two PostgreSQL commits in series: the enqueue's INSERT (its NOTIFY goes out at commit) and the worker's claim. In this run's profile (section 7) the enqueue call alone took ${f1(p.latOn.enqueue)} ms of the ${f1(p.latOn.p50)} ms p50, and with \`synchronous_commit=off\` (no WAL flush at commit) the p50 was ${f1(p.latOff.p50)} ms: that difference is what the two flushes cost.`;
  return {
    "throughput:bullmq": `Measured in this run (section 7): during a round of trivial runs Outlast's worker process was idle ${pct(p.idleShare)} of the time — it waits on PostgreSQL, not on its own CPU. Its hot path is one statement that finishes a batch of runs and claims the next (${p.statementsPerJob.toFixed(2)} statements per job); with one such statement in flight, concurrency 10 puts at most 10 runs on each round trip. With \`synchronous_commit=off\` the same workload ran at ${f0(p.tputOff)} jobs/s against ${f0(p.tputOn)} with the default, so the WAL flush behind each commit costs ${pct(Math.max(0, flushShare))} of throughput; the rest is the statement itself (in a profiling session: ~0.9 ms of execution updating 20 rows and their indexes, 2.2 ms median server time) and the round trip on two shared cores. BullMQ finishes a job with a Lua script in Redis memory, and ${redisDurability}. The gap is the price of a durable commit per batch of runs; a larger batch (higher concurrency) amortises it.`,
    "latency-p50:bullmq": `${latency} BullMQ's path is two Redis round trips (add, then the worker's fetch) with no disk write: ${redisDurability}.`,
    "latency-p99:bullmq": `The p99 is a round's slowest of 50 probes. ${latency} In a profiling session, turning the flush off did not reliably shorten Outlast's tail (p99 12–15 ms on vs 9–16 ms off, 3 alternating pairs of 100 probes), so the tail is not only the flush; scheduling delays on the two shared cores are the likely rest, not isolated. ${redisDurability}.`,
    "latency-p50:restate": `${latency} Restate's path (ingress, its own log on RocksDB, push to the SDK endpoint) was not profiled, nor whether its log flushes to disk before the ingress answers, so no cause on its side is claimed.`,
    "latency-p99:restate": `The p99 is a round's slowest of 50 probes. ${latency} In a profiling session, turning the flush off did not reliably shorten Outlast's tail (p99 12–15 ms on vs 9–16 ms off, 3 alternating pairs of 100 probes), so the tail is not only the flush; scheduling delays on the two shared cores are the likely rest, not isolated. Restate's side was not profiled.`,
    "latency-p50:graphile-worker": `graphile-worker's path has the same shape (INSERT with NOTIFY, then a claiming statement, two commits). ${ownSide}`,
    "latency-p99:graphile-worker": `graphile-worker's path has the same shape (INSERT with NOTIFY, then a claiming statement, two commits). ${ownSide}`,
    "steps-seq": `Outlast sends a workflow through its queue (submit, claim, 10 journal writes each committed before the step returns, finish, waiter) — about 18 statements per 10-step workflow, see the table. ${ownSide}`,
    "steps-c10": `At concurrency 10 Outlast's group commit puts steps of different runs in one statement (about 8 statements per 10-step workflow, see the table). ${ownSide}`,
    throughput: ownSide,
    checkpoint: ownSide,
    "kill:bullmq": ownSide,
  };
}
