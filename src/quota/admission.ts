import type { Cap, Gateway } from "../gateway/index.js";
import type { Db } from "../store/db.js";
import {
  RUNNING_OF_AGENT,
  RUNNING_OF_AGENT_BY_TENANT,
  THROTTLED_BY_LIMIT,
} from "../store/sql/quota.js";
import { type AgentProfile, DEFAULT_PROJECT } from "../types/index.js";
import { type Fairness, fairShareVerdict, type TenantRuns } from "./fairness.js";
import { type Forecast, forecastRun } from "./forecast.js";
import { capMeter, capMeters, type Headroom, readHeadroom } from "./headroom.js";

export type Admission =
  | { admit: true; forecast: Forecast }
  | {
      admit: false;
      forecast: Forecast;
      /** `provider/model dimension` */
      limit: string;
      /** When the run can expect to start; undefined when it never can (forecast > cap). */
      etaMs: number | undefined;
      reason: string;
    };

const DAY_MS = 86_400_000;
/** Runs admitted to learn an agent's pace before it is known. */
const PROBE_RUNS = 2;

/**
 * Decides whether a run may start now, by the quota it will need — the scheduling no
 * durable engine or gateway does: they limit runs or requests, never whole runs' tokens.
 *
 * - **Daily quota.** Today's remaining TPD of every model the run calls, and of every
 *   `gateway.caps` cap of its tenant and feature, must cover its forecast; otherwise the
 *   run waits (status `throttled`, with the limit and an ETA) instead of failing on step
 *   27 after paying for 26.
 * - **Rate share.** Once the agent's pace is learned (tokens per minute of a run at full
 *   speed), at most ⌊TPM ÷ pace⌋ of its runs execute at once, so admitted runs progress
 *   at full speed rather than all runs crawling and timing out together. A
 *   `gateway.caps` cap shares its own per-minute limits the same way among the agent's
 *   runs it holds (a tenant's or feature's: those with its tag; a project's: all).
 * - **Tenants** (with a `fairness` config): a full share is split among the tenants
 *   waiting for it by weight, so one tenant's burst cannot hold the others' runs back
 *   (see {@link fairShareVerdict}).
 *
 * Mid-run throttling (a step's call must wait) is the gateway's part: the run parks as
 * `throttled` without spending an attempt.
 */
export class QuotaService {
  private readonly forecasts = new Map<string, { at: number; forecast: Promise<Forecast> }>();

  constructor(
    private readonly db: Db,
    private readonly gateway: Gateway,
    /** How long a learned forecast is reused before it is read again. */
    private readonly forecastTtlMs = 10_000,
    /** Weighted fairness between tenants; undefined: off (the config has no `fairness`). */
    private readonly fairness?: Fairness,
  ) {}

  /** The agent's forecast, re-learned at most every `forecastTtlMs` (it sits on the claim path). */
  forecast(agent: AgentProfile): Promise<Forecast> {
    const hit = this.forecasts.get(agent.name);
    if (hit && Date.now() - hit.at < this.forecastTtlMs) return hit.forecast;
    const forecast = forecastRun(this.db, agent);
    this.forecasts.set(agent.name, { at: Date.now(), forecast });
    forecast.catch(() => this.forecasts.delete(agent.name));
    return forecast;
  }

  /**
   * @param run.tenant the tenant of the run being decided (`tags.tenant`, `""` when
   *   untagged): its fair share with fairness on, and its `gateway.caps` caps.
   * @param run.feature the run's `tags.feature`, for its `gateway.caps` caps.
   * @param run.project the run's project (default `"default"`): its `ctx.llm` calls are
   *   charged to it, so its project caps hold the run.
   */
  async check(
    agent: AgentProfile,
    run: { tenant?: string; feature?: string; project?: string } = {},
  ): Promise<Admission> {
    const forecast = await this.forecast(agent);
    const targets = forecast.models.flatMap((m) => this.gateway.targetsOf(m).slice(0, 1));
    // The caps its calls will be held to (ctx.llm's calls are its project's): they must
    // cover the run too, like the targets' limits.
    const project = run.project ?? DEFAULT_PROJECT;
    const caps = this.gateway.caps.for({
      project,
      // Calls drop an empty tag from their attribution (worker.ts), so must this.
      feature: run.feature || undefined,
      tenant: run.tenant || undefined,
    });
    if (targets.length === 0 && caps.length === 0) return { admit: true, forecast };
    // One read for both (this sits on the claim path); rooms come back in the order asked.
    const rooms = await readHeadroom(this.gateway.buckets, [...caps.map(capMeter), ...targets]);
    for (const [i, room] of rooms.entries()) {
      const refusal =
        this.tpdShort(room, forecast) ??
        (await this.rateShareFull(agent, room, forecast, run.tenant ?? "", project, caps[i]));
      if (refusal) return { admit: false, forecast, ...refusal };
    }
    return { admit: true, forecast };
  }

  private tpdShort(
    room: Headroom,
    forecast: Forecast,
  ): Omit<Extract<Admission, { admit: false }>, "admit" | "forecast"> | undefined {
    const cap = room.caps.tpd;
    const left = room.remaining.tpd;
    if (cap === undefined || left === undefined || left >= forecast.tokens) return undefined;
    const limit = `${room.target} tpd`;
    if (forecast.tokens > cap) {
      return {
        limit,
        etaMs: undefined,
        reason: `a run needs ~${forecast.tokens} tokens, more than the daily limit of ${cap}`,
      };
    }
    return {
      limit,
      etaMs: Math.ceil(((forecast.tokens - left) * DAY_MS) / cap),
      reason: `${left} of ${cap} tokens left today; a run needs ~${forecast.tokens}`,
    };
  }

  /**
   * @param cap the `gateway.caps` cap `room` is of, undefined for a provider's target: a
   *   cap's share is counted among the runs it holds — those with its tag; a project cap
   *   those of its project, whose ctx.llm calls are charged to it. With fairness
   *   on, a project's or feature's share is split among its tenants like a target's; a
   *   tenant's cap is that tenant's alone, so it is not split.
   */
  private async rateShareFull(
    agent: AgentProfile,
    room: Headroom,
    forecast: Forecast,
    tenant: string,
    project: string,
    cap: Cap | undefined,
  ): Promise<Omit<Extract<Admission, { admit: false }>, "admit" | "forecast"> | undefined> {
    // How many runs at full speed the per-minute limits carry; the tighter one binds.
    const shares: { dim: string; n: number }[] = [];
    if (room.caps.tpm !== undefined && forecast.tokensPerMinute) {
      shares.push({ dim: "tpm", n: room.caps.tpm / forecast.tokensPerMinute });
    }
    if (room.caps.rpm !== undefined && forecast.callsPerMinute) {
      shares.push({ dim: "rpm", n: room.caps.rpm / forecast.callsPerMinute });
    }
    let binding = shares.sort((a, b) => a.n - b.n)[0];
    if (!binding) {
      // Pace not learned yet (no calls so far): a few runs probe it rather than a whole
      // burst being admitted blind; their first calls teach it within a second or so.
      const dim =
        room.caps.rpm !== undefined ? "rpm" : room.caps.tpm !== undefined ? "tpm" : undefined;
      if (!dim) return undefined;
      binding = { dim, n: PROBE_RUNS };
    }
    // Beyond the steady share, runs whose whole forecast fits in what the bucket holds now
    // (a full bucket at the start, quota left unused) may start too: without this a 600
    // RPM key with 600 calls banked served 40 × 30 calls in 128 s instead of ~64 s.
    const banked = binding.dim === "rpm" ? room.remaining.rpm : room.remaining.tpm;
    const perRun = binding.dim === "rpm" ? forecast.llmCalls : forecast.tokens;
    const burst = banked !== undefined && perRun > 0 ? Math.floor(banked / perRun) : 0;
    const share = Math.max(1, Math.floor(binding.n)) + burst;
    const runMinutes = forecast.callsPerMinute
      ? forecast.llmCalls / forecast.callsPerMinute
      : 1 / 60;
    const held: (string | null)[] = !cap
      ? [agent.name, null, null, null]
      : cap.scope === "project"
        ? [agent.name, null, null, project]
        : [agent.name, cap.scope, cap.name, null];
    if (this.fairness && cap?.scope !== "tenant") {
      return this.tenantShareFull(agent, held, tenant, share, runMinutes, room.target, binding.dim);
    }
    const counts = (await this.db.query<{ n: number; waiting: number }>(RUNNING_OF_AGENT, held))[0];
    const running = counts?.n ?? 0;
    // The run being decided is itself `running` (claimed) when a worker asks.
    if (running <= share) return undefined;
    return {
      limit: `${room.target} ${binding.dim}`,
      // Its turn comes after the runs already waiting, a share at a time; spread ±50% so
      // the waiting runs do not all come back at once (measured: with one ETA for all,
      // 180 throttled runs were re-claimed every half second to be refused again).
      etaMs: Math.ceil(
        ((runMinutes * 60_000) / share) * (1 + (counts?.waiting ?? 0) / share) * this.jitter(),
      ),
      reason: `${share} runs of ${agent.name} at full speed use the ${binding.dim} limit of ${room.target}; this one waits its turn`,
    };
  }

  /**
   * The rate share with fairness on: split among tenants when it is full.
   * @param held RUNNING_OF_AGENT_BY_TENANT's parameters: the runs the limit holds
   */
  private async tenantShareFull(
    agent: AgentProfile,
    held: (string | null)[],
    tenant: string,
    share: number,
    runMinutes: number,
    target: string,
    dim: string,
  ): Promise<Omit<Extract<Admission, { admit: false }>, "admit" | "forecast"> | undefined> {
    const byTenant = await this.db.query<TenantRuns>(RUNNING_OF_AGENT_BY_TENANT, held);
    const running = byTenant.reduce((n, r) => n + r.running, 0);
    if (running <= share || !this.fairness) return undefined;
    const v = fairShareVerdict(this.fairness, share, tenant, byTenant);
    if (v.admit) return undefined;
    // Its turn comes when one of its own tenant's runs ends, after that tenant's waiting
    // runs; jittered as above.
    const part = Math.max(1, v.tenantShare);
    return {
      limit: `${target} ${dim}`,
      etaMs: Math.ceil(((runMinutes * 60_000) / part) * (1 + v.waiting / part) * this.jitter()),
      reason: `tenant "${tenant}" has ${v.running} runs of ${agent.name} going, over its weighted share of ${v.tenantShare} of the ${share} runs the ${dim} limit carries at full speed; this one waits its turn`,
    };
  }

  /** A factor in [0.5, 1.5); 1 in tests that need exact figures. */
  jitter: () => number = () => 0.5 + Math.random();

  /**
   * Headroom of every limited target and of the caps `project` is held to, and how many of
   * its runs wait on each limit. Providers' limits are shared by every project, so their
   * headroom shows to all; another project's caps and runs do not.
   */
  async overview(project: string = DEFAULT_PROJECT): Promise<{
    limits: (Headroom & { runsWaiting: number })[];
    throttled: { limit: string; runs: number; nextEta: string | null }[];
  }> {
    const rooms = await readHeadroom(this.gateway.buckets, [
      ...this.gateway.limitedTargets(),
      ...(await capMeters(this.gateway.buckets, this.gateway.caps, project)),
    ]);
    const waiting = await this.db.query<{
      limit: string | null;
      runs: number;
      next_eta: Date | null;
    }>(THROTTLED_BY_LIMIT, [project]);
    const waitingOn = (target: string) =>
      waiting.filter((w) => w.limit?.startsWith(`${target} `)).reduce((n, w) => n + w.runs, 0);
    return {
      limits: rooms.map((r) => ({ ...r, runsWaiting: waitingOn(r.target) })),
      throttled: waiting.map((w) => ({
        limit: w.limit ?? "unknown",
        runs: w.runs,
        nextEta:
          w.next_eta && Number.isFinite(w.next_eta.getTime()) ? w.next_eta.toISOString() : null,
      })),
    };
  }
}
