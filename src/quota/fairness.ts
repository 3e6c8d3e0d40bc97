/**
 * Weighted fairness between tenants, so one tenant's burst cannot starve the rest.
 *
 * A run's tenant is its `tags.tenant`; untagged runs share one tenant, `""`. Fairness is on
 * when the config has a `fairness` block; without one, claims and admission run exactly as
 * before (the same SQL).
 *
 * It acts in two places:
 *
 * - **Claim order** (src/store/sql/runs.ts, CLAIM_RUNS_FAIR): within a priority, the ready
 *   runs of a queue are taken by weighted fair queueing between tenants. The k-th waiting
 *   run (from 1) of tenant t ends its turn at (running_t + k) ÷ weight_t, where running_t
 *   is how many runs of t already execute: on this worker for uncapped queues, on every
 *   worker for a queue with a global concurrency cap (counted inside the claim's lock).
 *   Earliest turn first; ties go to the older run. Weights 3:1 give 3:1 starts while both
 *   tenants have a backlog; a tenant alone gets every slot.
 * - **Admission** (src/quota/admission.ts): when an agent's rate share is full, the share
 *   is split among the tenants with runs of that agent running or throttled, by weight;
 *   see {@link fairShareVerdict}.
 *
 * Priority still comes first: an interactive run of any tenant starts before a background
 * run of any other.
 */

import type { FairClaim, FairnessConfig } from "../types/index.js";

export type { FairClaim, FairnessConfig };

/** The tenant a run belongs to. */
export function tenantOf(tags: Readonly<Record<string, string>> | null | undefined): string {
  return tags?.tenant ?? "";
}

/** Tenants' weights, from the config's `fairness` block. */
export class Fairness {
  readonly defaultWeight: number;
  private readonly weights: ReadonlyMap<string, number>;

  constructor(config: FairnessConfig = {}) {
    this.defaultWeight = config.defaultWeight ?? 1;
    this.weights = new Map(Object.entries(config.tenants ?? {}));
  }

  weight(tenant: string): number {
    return this.weights.get(tenant) ?? this.defaultWeight;
  }

  /**
   * What a claim needs: every tenant that is weighted or runs something, with its weight
   * and its running runs.
   */
  claimArgs(running: ReadonlyMap<string, number>): FairClaim {
    const tenants = [...new Set([...this.weights.keys(), ...running.keys()])];
    return {
      tenants,
      weights: tenants.map((t) => this.weight(t)),
      running: tenants.map((t) => running.get(t) ?? 0),
      defaultWeight: this.defaultWeight,
    };
  }
}

/**
 * The runs a worker executes, by queue and tenant, so a fair claim can count each tenant's
 * running runs without a counter row written per claim.
 */
export class TenantLoad {
  private readonly counts = new Map<string, Map<string, number>>();

  add(queue: string, tenant: string): void {
    const q = this.counts.get(queue) ?? new Map<string, number>();
    q.set(tenant, (q.get(tenant) ?? 0) + 1);
    this.counts.set(queue, q);
  }

  remove(queue: string, tenant: string): void {
    const q = this.counts.get(queue);
    const n = (q?.get(tenant) ?? 0) - 1;
    if (n > 0) q?.set(tenant, n);
    else q?.delete(tenant);
  }

  /** Running runs by tenant, over some queues. */
  running(queues: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const queue of queues) {
      for (const [t, n] of this.counts.get(queue) ?? []) out.set(t, (out.get(t) ?? 0) + n);
    }
    return out;
  }
}

/** How many runs of an agent one tenant has running and throttled. */
export interface TenantRuns {
  tenant: string;
  running: number;
  waiting: number;
}

export type FairShareVerdict =
  | { admit: true }
  | {
      admit: false;
      /** The tenant's weighted part of the share, in whole runs. */
      tenantShare: number;
      running: number;
      waiting: number;
    };

/**
 * Admission when an agent's rate share is full (more runs running than the share carries,
 * counting the run being decided, which is itself running when a worker asks).
 *
 * The share is split among the active tenants — those with runs of the agent running or
 * throttled, and the asking one — by weight: tenant t's part is
 * ⌊share × weight_t ÷ Σ weights⌋ runs.
 *
 * - A tenant within its part is admitted although the share is full, so its runs do not
 *   wait behind another tenant's burst. (Waiting instead would hold its first run for a
 *   whole run of the bursting tenant or longer: a throttled ETA counts the queue ahead.)
 *   The overshoot is bounded: runs admitted this way are at most Σ parts ≤ share, so the
 *   total stays under twice the share, and it lasts only until the over-share tenants'
 *   runs finish, as their next runs are refused meanwhile. Runs over the share are paced
 *   by the gateway mid-run (throttled, no attempt spent), never failed.
 * - A tenant over its part is refused (throttled), with a reason naming it and its part.
 * - Work-conserving: while the share is not full the caller admits without asking, so a
 *   tenant may use the whole share while nobody else waits; a tenant alone has the whole
 *   share as its part. With more tenants than the share has runs, parts round down to 0
 *   and runs start as the share frees up, in the claim's fair order.
 */
export function fairShareVerdict(
  fairness: Fairness,
  share: number,
  tenant: string,
  byTenant: readonly TenantRuns[],
): FairShareVerdict {
  const active = new Set([tenant]);
  for (const r of byTenant) if (r.running > 0 || r.waiting > 0) active.add(r.tenant);
  let total = 0;
  for (const t of active) total += fairness.weight(t);
  const tenantShare = Math.floor((share * fairness.weight(tenant)) / total);
  const mine = byTenant.find((r) => r.tenant === tenant);
  const running = mine?.running ?? 0;
  // The run being decided is among `running`: within its part means running ≤ part.
  if (running <= tenantShare) return { admit: true };
  return { admit: false, tenantShare, running, waiting: mine?.waiting ?? 0 };
}
