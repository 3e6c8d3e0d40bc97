/**
 * Counters behind `GET /stats` and `Simulator.stats()`.
 */
import type { SimCounters, SimStats } from "./types.js";

export type CounterName = "requests" | "ok" | "rateLimited" | "errors" | "timeouts" | "badRequests";

function fresh(): SimCounters {
  return {
    requests: 0,
    ok: 0,
    rateLimited: 0,
    errors: 0,
    timeouts: 0,
    badRequests: 0,
    tokens: { input: 0, output: 0 },
  };
}

export class StatsRecorder {
  private total = fresh();
  private byModel = new Map<string, SimCounters>();

  /** Counts an event globally and, when the model is known, for that model. */
  count(name: CounterName, model?: string): void {
    this.total[name]++;
    if (model !== undefined) this.model(model)[name]++;
  }

  /** Records a 200 answer and the tokens it billed. */
  ok(model: string, input: number, output: number): void {
    const m = this.model(model);
    for (const c of [this.total, m]) {
      c.ok++;
      c.tokens.input += input;
      c.tokens.output += output;
    }
  }

  snapshot(inFlight: number): SimStats {
    const byModel: Record<string, SimCounters> = {};
    for (const [name, c] of this.byModel) byModel[name] = structuredClone(c);
    return { ...structuredClone(this.total), inFlight, byModel };
  }

  reset(): void {
    this.total = fresh();
    this.byModel = new Map();
  }

  private model(name: string): SimCounters {
    let c = this.byModel.get(name);
    if (!c) {
      c = fresh();
      this.byModel.set(name, c);
    }
    return c;
  }
}
