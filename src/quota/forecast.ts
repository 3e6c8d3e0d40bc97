import type { Db } from "../store/db.js";
import { RECENT_CALL_PACE, RECENT_RUN_COSTS } from "../store/sql/quota.js";
import type { AgentProfile } from "../types/index.js";

/** What one run of an agent is expected to need. */
export interface Forecast {
  llmCalls: number;
  /** Input + output tokens over the whole run. */
  tokens: number;
  /** Model names (aliases or provider/model) the run calls. */
  models: string[];
  /** Tokens per minute one run spends when it runs at full speed; undefined until learned. */
  tokensPerMinute: number | undefined;
  /** LLM calls per minute one run makes at full speed; undefined until learned. */
  callsPerMinute: number | undefined;
  source: "declared" | "learned" | "prior";
  /** Finished runs the figures were learned from. */
  basedOn: number;
}

/**
 * Until an agent has history, assume a modest run: 5 calls of 1,000 tokens. A prior that
 * is too high would hold the first runs back for nothing; too low, and the learned figure
 * takes over after the first few runs anyway.
 */
export const PRIOR = { llmCalls: 5, tokens: 5_000 };

/** Runs needed before learned figures replace the prior. */
const MIN_HISTORY = 3;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
}

/**
 * The forecast of one run: what the agent declares (`estimate`), else the 90th
 * percentile of its last 50 successful runs (calls and tokens, from the gateway's
 * accounting), else the prior. A high percentile, because admitting a run that then runs
 * out of quota on step 27 is the failure this exists to prevent.
 */
export async function forecastRun(db: Db, agent: AgentProfile): Promise<Forecast> {
  const declared = agent.estimate;
  const rows = await db.query<{ calls: number; tokens: number; seconds: number; models: string[] }>(
    RECENT_RUN_COSTS,
    [agent.name],
  );
  const learned = rows.filter((r) => r.calls > 0);
  const hasHistory = learned.length >= MIN_HISTORY;
  // Pace at full speed: from the agent's recent calls — a run calls one after another, so
  // it makes 60 s ÷ (time at the provider) calls a minute. Finished runs' durations only
  // until calls are known: they include waits for quota, so under contention they make
  // runs look slow and admit more of them, which then wait more (measured: 72 runs of a
  // 4-run share admitted at once, every run crawling). Time an agent spends outside LLM
  // calls makes the call pace an overestimate: fewer runs admitted, each at full speed,
  // and quota they leave unused is banked and admits more (the burst in admission.ts).
  const pace = (
    await db.query<{
      calls: number;
      tokens_per_call: number;
      latency_ms: number;
      models: string[];
    }>(RECENT_CALL_PACE, [agent.name])
  )[0];
  const paceKnown = pace !== undefined && pace.calls >= MIN_HISTORY && pace.latency_ms > 0;
  const perMinute = (f: (r: (typeof learned)[number]) => number, fromPace: () => number) =>
    paceKnown
      ? fromPace()
      : hasHistory
        ? percentile(
            learned.map((r) => (f(r) / r.seconds) * 60),
            90,
          )
        : undefined;
  const pacing = {
    models: declared?.models ?? [
      ...new Set([...learned.flatMap((r) => r.models), ...(pace?.models ?? [])]),
    ],
    tokensPerMinute: perMinute(
      (r) => r.tokens,
      () => (pace!.tokens_per_call * 60_000) / pace!.latency_ms,
    ),
    callsPerMinute: perMinute(
      (r) => r.calls,
      () => 60_000 / pace!.latency_ms,
    ),
    basedOn: learned.length,
  };
  if (declared?.tokens !== undefined || declared?.llmCalls !== undefined) {
    return {
      llmCalls: declared.llmCalls ?? PRIOR.llmCalls,
      tokens: declared.tokens ?? PRIOR.tokens,
      ...pacing,
      source: "declared",
    };
  }
  if (hasHistory) {
    return {
      llmCalls: percentile(
        learned.map((r) => r.calls),
        90,
      ),
      tokens: percentile(
        learned.map((r) => r.tokens),
        90,
      ),
      ...pacing,
      source: "learned",
    };
  }
  return { ...PRIOR, ...pacing, source: "prior" };
}
