import { type Fairness, TenantLoad, tenantOf } from "../quota/fairness.js";
import type { Finish, Repo } from "../store/repo.js";
import type { Claimant, ClaimedRun, FairClaim } from "../types/index.js";

/**
 * What a pull worker claims, and how: its queues (with and without a global cap), its
 * retry policies (the claimant), and tenant fairness, for which it counts the runs it
 * holds by tenant. Every claim statement of the worker goes through here.
 */
export class Claimer {
  /** Queues without a global cap: claimed together, and refilled by the finish statement. */
  readonly uncapped: string[];
  /** Set when fairness is on; `load` then counts the runs holding slots, by tenant. */
  private readonly load = new TenantLoad();

  constructor(
    private readonly repo: Repo,
    private readonly claimant: Claimant,
    readonly queues: readonly string[],
    private readonly queueLimits: Readonly<Record<string, number>>,
    private readonly fairness: Fairness | undefined,
  ) {
    this.uncapped = queues.filter((q) => queueLimits[q] === undefined);
  }

  /** Claims up to `free` ready runs: the uncapped queues in one statement, then each capped one. */
  async claim(free: number): Promise<ClaimedRun[]> {
    const out: ClaimedRun[] = [];
    if (this.uncapped.length > 0) {
      const fair = this.fairClaim(this.uncapped);
      out.push(...(await this.repo.claim(this.uncapped, free, this.claimant, fair)));
    }
    for (const q of this.queues) {
      const cap = this.queueLimits[q];
      if (cap === undefined || out.length >= free) continue;
      const n = free - out.length;
      out.push(...(await this.repo.claimCapped(q, cap, n, this.claimant, this.fairness)));
    }
    return out;
  }

  /** Finishes runs and, when `want` > 0, claims up to `want` runs of the uncapped queues. */
  finish(items: Finish[], want: number): Promise<{ finished: Set<string>; claimed: ClaimedRun[] }> {
    if (want <= 0 || this.uncapped.length === 0) {
      return this.repo.finishRuns(items).then((finished) => ({ finished, claimed: [] }));
    }
    const fair = this.fairClaim(this.uncapped);
    return this.repo.finishAndClaim(items, this.uncapped, want, this.claimant, fair);
  }

  /** A run of this worker started or ended: counted for fairness. */
  holding(run: ClaimedRun, held: boolean): void {
    if (!this.fairness) return;
    if (held) this.load.add(run.queue, tenantOf(run.tags));
    else this.load.remove(run.queue, tenantOf(run.tags));
  }

  /** A fair claim's arguments for some queues (their tenants' runs on this worker); off: undefined. */
  private fairClaim(queues: readonly string[]): FairClaim | undefined {
    return this.fairness?.claimArgs(this.load.running(queues));
  }
}
