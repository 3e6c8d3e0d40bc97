/**
 * Output-token estimates for calls without max_tokens, learned per target. The
 * reservation must cover what the provider will bill, so the estimate is the mean plus
 * two standard deviations of recent outputs (exponentially weighted, α = 0.1), starting
 * from a deliberately high prior: undercounting risks a provider 429, overcounting only
 * holds quota until the call reconciles.
 */
const PRIOR = 256;
const ALPHA = 0.1;
const MIN = 16;
const MAX = 8_192;

export class OutputEstimator {
  private readonly stats = new Map<string, { mean: number; var: number; n: number }>();

  estimate(targetId: string): number {
    const s = this.stats.get(targetId);
    if (!s || s.n < 5) return PRIOR;
    return Math.round(Math.min(MAX, Math.max(MIN, s.mean + 2 * Math.sqrt(s.var))));
  }

  observe(targetId: string, outputTokens: number): void {
    const s = this.stats.get(targetId);
    if (!s) {
      this.stats.set(targetId, { mean: outputTokens, var: 0, n: 1 });
      return;
    }
    const d = outputTokens - s.mean;
    s.mean += ALPHA * d;
    s.var = (1 - ALPHA) * (s.var + ALPHA * d * d);
    s.n++;
  }
}
