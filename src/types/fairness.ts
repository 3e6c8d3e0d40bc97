/** Weighted fairness between tenants (src/quota/fairness.ts explains the scheme). */
export interface FairnessConfig {
  /** Weight by tenant (`tags.tenant`; `""` for untagged runs). Default: `defaultWeight`. */
  tenants?: Readonly<Record<string, number>> | undefined;
  /** Weight of tenants not listed. Default 1. */
  defaultWeight?: number | undefined;
}

/** The fairness arguments of a claim: parallel arrays plus the weight of unlisted tenants. */
export interface FairClaim {
  tenants: string[];
  weights: number[];
  running: number[];
  defaultWeight: number;
}

/** What a claim needs of fairness: the arguments for tenants' counts of running runs. */
export interface FairClaimSource {
  claimArgs(running: ReadonlyMap<string, number>): FairClaim;
}
