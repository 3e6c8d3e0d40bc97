/**
 * Prices in USD per million tokens. Built-in list prices (standard tier, as published by
 * OpenAI and Anthropic in 2025) are defaults only; `gateway.pricing` in the config
 * overrides or extends them. A model matches the longest listed prefix, so dated
 * snapshots (`gpt-4o-2024-08-06`) take their family's price. Unknown models cost 0 and
 * are still counted in tokens.
 */
export interface Price {
  input: number;
  output: number;
  cachedInput?: number | undefined;
}

export const DEFAULT_PRICES: Readonly<Record<string, Price>> = {
  "gpt-4o": { input: 2.5, output: 10, cachedInput: 1.25 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "gpt-4.1": { input: 2, output: 8, cachedInput: 0.5 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "gpt-5": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cachedInput: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cachedInput: 0.005 },
  o3: { input: 2, output: 8, cachedInput: 0.5 },
  "o3-mini": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "o4-mini": { input: 1.1, output: 4.4, cachedInput: 0.275 },
  "claude-opus-4": { input: 15, output: 75, cachedInput: 1.5 },
  "claude-sonnet-4": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-7-sonnet": { input: 3, output: 15, cachedInput: 0.3 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cachedInput: 0.08 },
  "claude-haiku-4": { input: 1, output: 5, cachedInput: 0.1 },
};

export class PriceTable {
  private readonly entries: [string, Price][];
  private readonly memo = new Map<string, Price | undefined>();

  constructor(overrides: Readonly<Record<string, Price>> = {}) {
    this.entries = Object.entries({ ...DEFAULT_PRICES, ...overrides }).sort(
      (a, b) => b[0].length - a[0].length,
    );
  }

  price(model: string): Price | undefined {
    if (this.memo.has(model)) return this.memo.get(model);
    const found = this.entries.find(([prefix]) => model.startsWith(prefix))?.[1];
    this.memo.set(model, found);
    return found;
  }

  /** USD for one call; cached input is billed at the cached price when one is listed. */
  cost(model: string, usage: { input: number; output: number; cached: number }): number {
    const p = this.price(model);
    if (!p) return 0;
    const cachedPrice = p.cachedInput ?? p.input;
    return (
      ((usage.input - usage.cached) * p.input +
        usage.cached * cachedPrice +
        usage.output * p.output) /
      1e6
    );
  }
}
