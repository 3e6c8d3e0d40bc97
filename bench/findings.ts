/**
 * Why Outlast is behind where it is behind. Keyed by comparison (`throughput:bullmq`) or by
 * workload alone (`latency-p50`); the report prints the finding under every comparison
 * Outlast loses in the run, and says plainly when a loss was not profiled.
 *
 * Figures come from the profile section of the same run (bench/workloads/profile.ts)
 * where they can; the rest from one profiling session on this machine (2026-11-28) and
 * are named as such: auto_explain (log_analyze, 1 % sample) and log_min_duration_statement
 * on a round of 10,000 trivial runs — 1,000 finish-and-claim statements, each executing
 * in ~0.9 ms (426 shared-buffer hits, 20 rows updated: 10 finished, 10 claimed), server
 * time median 2.2 ms, 2.6 s of the 5.8 s round; and node --cpu-prof over workload 2's
 * Outlast rounds (100 sequential and 400 concurrent 10-step workflows): the process was
 * idle 78 % of the time.
 */
import type { Machine } from "./lib/machine.js";
import type { ProfileData } from "./workloads/profile.js";

const pct = (x: number) => `${Math.round(100 * x)}%`;
const f0 = (x: number) => Math.round(x).toLocaleString("en-US");
const f1 = (x: number) => x.toFixed(1);

export function findings(p: ProfileData | undefined, m: Machine): Record<string, string> {
  const noPersistence =
    /appendonly no/.test(m.redisPersistence) && /save ""/.test(m.redisPersistence);
  const redis = noPersistence
    ? `This Redis runs with persistence off (${m.redisPersistence}): a BullMQ job never touches the disk, and a Redis crash loses every job.`
    : `This Redis runs with ${m.redisPersistence}.`;
  if (!p) return { "throughput:bullmq": `The profile (section 7) failed in this run. ${redis}` };

  const twoCommits = `An Outlast enqueue-to-start is two PostgreSQL commits in series: the enqueue's INSERT (its NOTIFY goes out at commit) and the worker's claim. In section 7's own rounds the enqueue call took ${f1(p.latOn.enqueue)} ms of a ${f1(p.latOn.p50)} ms p50; with \`synchronous_commit=off\` (no WAL flush at commit) the p50 was ${f1(p.latOff.p50)} ms — the difference is what the two flushes cost.`;
  const tail = `The p99 is the slowest of 50 probes in a round and moves with the machine's noise; in section 7's rounds Outlast's p99 was ${f1(p.latOn.p99)} ms with the flush and ${f1(p.latOff.p99)} ms without${p.latOn.p99 / p.latOff.p99 < 1.2 ? ", so the flush is not what sets the tail; what does was not isolated" : ""}.`;
  const ownSide = `Outlast's side was profiled (section 7); the other system's was not, so the cause of this gap is not established.`;
  const flush = Math.max(0, 1 - p.tputOn / p.tputOff);

  return {
    "throughput:bullmq": `Measured in this run (section 7): during a round of trivial runs Outlast's worker process was idle ${pct(p.idleShare)} of the time — it waits on PostgreSQL, not on its own CPU. Its hot path is one statement that finishes a batch of runs and claims the next (${p.statementsPerJob.toFixed(2)} statements per job); with one such statement in flight, concurrency 10 puts at most 10 runs on each round trip. With \`synchronous_commit=off\` the same workload ran at ${f0(p.tputOff)} jobs/s against ${f0(p.tputOn)} with the default: the WAL flush behind each commit costs ${pct(flush)} of throughput. The rest is the statement (in a profiling session: ~0.9 ms executing, 2.2 ms median server time, updating 20 rows and their indexes) and its round trip on two shared cores. BullMQ finishes a job with a Lua script in Redis memory. ${redis}`,
    "latency-p50:bullmq": `${twoCommits} BullMQ's path is two Redis round trips (add, then the worker's fetch) and no disk write. ${redis}`,
    "latency-p99:bullmq": `${tail} ${redis}`,
    "latency-p50:restate": `${twoCommits} Restate's path (ingress, its own log on RocksDB, push to the SDK endpoint) was not profiled, nor whether its log reaches the disk before the ingress answers, so no cause on its side is claimed.`,
    "latency-p99:restate": `${tail} Restate's side was not profiled.`,
    "latency-p50:graphile-worker": `graphile-worker's path has the same shape (an INSERT that NOTIFYs, then a claiming statement: two commits). ${twoCommits} ${ownSide}`,
    "latency-p99:graphile-worker": `${tail} ${ownSide}`,
    "steps-seq": `Outlast sends each workflow through its queue (submit, claim, 10 journal writes each committed before its step returns, finish, waiter): about 18 statements per 10-step workflow, see the table. In a profiling session (node --cpu-prof over this workload) Outlast's process was idle 78% of the time, waiting on PostgreSQL. ${ownSide}`,
    "steps-marginal": `One more Outlast step is one journal write committed before the step returns (a 1-run step cannot share its commit; group commit serves concurrent runs): a PostgreSQL commit with its WAL flush, the INSERT's event trigger (step.started and step.finished rows, ~0.05 ms) and a round trip on two shared cores. ${ownSide}`,
    "steps-c10": `At concurrency 10 Outlast's group commit writes steps of different runs in one statement (about 8 statements per 10-step workflow, see the table). In a profiling session (node --cpu-prof over this workload) Outlast's process was idle 78% of the time, waiting on PostgreSQL. ${ownSide}`,
    throughput: ownSide,
    checkpoint: ownSide,
  };
}
