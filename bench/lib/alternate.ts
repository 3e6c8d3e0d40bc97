/**
 * Rounds that alternate between systems: every system runs round 1 (in a rotating order),
 * then round 2, and so on, so a noisy minute on this shared machine lands on every
 * system rather than on one. A system that fails is reported with its error and left out
 * of the later rounds.
 */
import type { SystemSpec } from "../systems/index.js";
import { Host } from "./hosts.js";
import type { Progress } from "./progress.js";
import type { Op, SystemAdapter } from "./types.js";

type Args<O extends Op> = Parameters<NonNullable<SystemAdapter[O]>>[0];
type Result<O extends Op> = Awaited<ReturnType<NonNullable<SystemAdapter[O]>>>;

export interface Cell<R> {
  spec: SystemSpec;
  /** One entry per finished round. */
  rounds: R[];
  /** Why the adapter could not start, or the latest failed round's error. */
  error?: string;
}

export interface Variant<O extends Op> {
  /** Shown in progress lines, e.g. "sequential". */
  name: string;
  args: Args<O> | ((spec: SystemSpec) => Args<O>);
}

/**
 * Runs `op` with each variant's args for every system, `rounds` times, alternating.
 * Returns cells keyed by variant name, then by system id.
 */
export async function alternate<O extends Op>(opts: {
  title: string;
  systems: SystemSpec[];
  op: O;
  variants: Variant<O>[];
  rounds: number;
  timeoutMs: number;
  progress: Progress;
  show: (r: Result<O>) => string;
}): Promise<Map<string, Map<string, Cell<Result<O>>>>> {
  const { progress } = opts;
  const cells = new Map<string, Map<string, Cell<Result<O>>>>();
  for (const v of opts.variants) {
    cells.set(v.name, new Map(opts.systems.map((s) => [s.id, { spec: s, rounds: [] }])));
  }
  const hosts = new Map<string, Host>();
  progress.status(`${opts.title} · starting ${opts.systems.length} adapter processes`);
  // Started together: nothing is being measured yet.
  await Promise.all(
    opts.systems.map(async (spec) => {
      try {
        hosts.set(spec.id, await Host.start(spec));
      } catch (err) {
        const msg = (err as Error).message;
        for (const v of opts.variants) cells.get(v.name)!.get(spec.id)!.error = msg;
        progress.log(`${spec.label}: cannot run — ${msg}`);
      }
    }),
  );
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = rotate(opts.systems, round);
      for (const v of opts.variants) {
        for (const spec of order) {
          const host = hosts.get(spec.id);
          const cell = cells.get(v.name)!.get(spec.id)!;
          // A failed round does not end the system's part: the next rounds still run (one
          // adapter crash of graphile-worker once left a whole workload without its row).
          if (!host) continue;
          const label = `${spec.label}${opts.variants.length > 1 ? ` (${v.name})` : ""}`;
          progress.status(`${opts.title} · round ${round + 1}/${opts.rounds} · ${label}`);
          const args = typeof v.args === "function" ? v.args(spec) : v.args;
          try {
            const r = await host.call(opts.op, args, opts.timeoutMs);
            cell.rounds.push(r);
            progress.log(`${label}, round ${round + 1}: ${opts.show(r)}`);
          } catch (err) {
            cell.error = `round ${round + 1}: ${(err as Error).message}`;
            progress.log(`${label}: failed — ${cell.error}`);
            if (host.child.exitCode !== null || host.child.signalCode !== null) {
              hosts.delete(spec.id);
              // The process is gone: restart it for the other variants.
              hosts.set(spec.id, await Host.start(spec).catch(() => host));
            }
          }
        }
      }
    }
  } finally {
    progress.status(`${opts.title} · closing`);
    await Promise.all([...hosts.values()].map((h) => h.close()));
  }
  return cells;
}

function rotate<T>(xs: T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}
