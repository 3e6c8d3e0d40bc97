/**
 * V8's sampling CPU profiler (what `node --cpu-prof` uses), started and stopped around a
 * measurement through node:inspector, summarised as the share of wall time the process
 * was idle (waiting on I/O — here, on the database) and where the busy time went.
 */
import { Session } from "node:inspector/promises";

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSummary {
  wallMs: number;
  idleShare: number;
  gcShare: number;
  /** Busy time by bucket (Outlast's src, a package name, Node internals), share of wall. */
  buckets: [string, number][];
}

function bucket(url: string, fn: string): string {
  if (fn === "(idle)") return "(idle)";
  if (fn === "(garbage collector)") return "(gc)";
  if (fn === "(program)") return "V8/native";
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.includes("/src/")) return "Outlast src/";
  if (url.includes("/bench/")) return "bench/";
  if (url.startsWith("node:")) return "Node internals";
  return "native (I/O writes, crypto, …)";
}

/** Starts profiling this process; the returned function stops and summarises. */
export async function profileCpu(): Promise<() => Promise<CpuSummary>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
    session.disconnect();
    return summarise(profile);
  };
}

export function summarise(p: Profile): CpuSummary {
  const byNode = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const t = new Map<string, number>();
  let wall = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    wall += d;
    const cf = byNode.get(id);
    const b = cf ? bucket(cf.url, cf.functionName) : "?";
    t.set(b, (t.get(b) ?? 0) + d);
  });
  const share = (k: string) => (t.get(k) ?? 0) / wall;
  return {
    wallMs: wall / 1000,
    idleShare: share("(idle)"),
    gcShare: share("(gc)"),
    buckets: [...t.entries()]
      .filter(([k]) => k !== "(idle)")
      .map(([k, v]) => [k, v / wall] as [string, number])
      .sort((a, b) => b[1] - a[1]),
  };
}
