/**
 * One accounting row per gateway call, written behind the response: rows gather for up
 * to LINGER_MS and go to the database in one INSERT, and nobody's answer waits for it.
 * Why linger instead of the engine's zero-delay group commit: at concurrency 1 that
 * wrote one row per statement, and the INSERT's CPU (client and server share this 2-core
 * box) added ~0.3 ms to every call's latency. The cost: a process killed outright loses
 * at most LINGER_MS of rows. `flush()` writes and waits for every row so far.
 */
import type { Db } from "../../store/db.js";
import { withDbRetry } from "../../store/retry.js";
import { GATEWAY_INSERT_CALLS } from "../../store/sql/gateway.js";
import type { Logger } from "../../util/log.js";

/** Who a call is charged to. Everything but project is optional. */
export interface Attribution {
  project: string;
  agent?: string | undefined;
  runId?: string | undefined;
  step?: string | undefined;
  feature?: string | undefined;
  tenant?: string | undefined;
}

export type CallOutcome = "ok" | "cache_hit" | "rate_limited" | "upstream_error" | "rejected";

export interface CallRecord {
  at: Date;
  attribution: Attribution;
  requested: string;
  provider: string | undefined;
  model: string | undefined;
  outcome: CallOutcome;
  status: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costUsd: number;
  latencyMs: number;
  /**
   * The answering attempt's time at the provider: latency without the wait for quota or
   * earlier attempts. What a run's full-speed pace is learned from (src/quota/forecast.ts).
   */
  upstreamMs: number | undefined;
  attempts: number;
  stream: boolean;
  errorCode: string | undefined;
}

const LINGER_MS = 25;
/** Rows per INSERT at most. */
const MAX_BATCH = 500;

export class CallRecorder {
  /** Rows lingering for the next write. */
  private buffer: CallRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Rows released, waiting for the write in flight to finish. */
  private queued: CallRecord[] = [];
  /** The write loop, while one runs: one INSERT in flight at a time. */
  private writing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  record(r: CallRecord): void {
    this.buffer.push(r);
    this.timer ??= setTimeout(() => this.release(), LINGER_MS);
  }

  /** Writes every row recorded so far and waits until they are stored (or given up). */
  async flush(): Promise<void> {
    this.release();
    while (this.writing) await this.writing;
  }

  private release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length > 0) {
      for (const r of this.buffer) this.queued.push(r);
      this.buffer = [];
    }
    this.kick();
  }

  private kick(): void {
    if (this.writing || this.queued.length === 0) return;
    this.writing = this.writeQueued().finally(() => {
      this.writing = undefined;
      this.kick();
    });
  }

  /** Rows are written in the order they were recorded, MAX_BATCH per statement. */
  private async writeQueued(): Promise<void> {
    while (this.queued.length > 0) {
      const rows = this.queued.splice(0, MAX_BATCH);
      try {
        await this.write(rows);
      } catch (err) {
        this.log.error("gateway: accounting rows lost", {
          error: String(err),
          rows: rows.length,
          requested: rows[0]?.requested,
        });
      }
    }
  }

  private async write(items: CallRecord[]): Promise<void> {
    const rows = items.map((r) => ({
      at: r.at.toISOString(),
      project: r.attribution.project,
      agent: r.attribution.agent ?? null,
      run_id: r.attribution.runId ?? null,
      step: r.attribution.step ?? null,
      feature: r.attribution.feature ?? null,
      tenant: r.attribution.tenant ?? null,
      requested: r.requested,
      provider: r.provider ?? null,
      model: r.model ?? null,
      outcome: r.outcome,
      status: r.status,
      input_tokens: r.inputTokens,
      output_tokens: r.outputTokens,
      cached_tokens: r.cachedTokens,
      cost_usd: r.costUsd,
      latency_ms: Math.round(r.latencyMs),
      upstream_ms: r.upstreamMs === undefined ? null : Math.round(r.upstreamMs),
      attempts: r.attempts,
      stream: r.stream,
      error_code: r.errorCode ?? null,
    }));
    // Accounting must not be lost to a database restart: retry for up to a minute.
    await withDbRetry(() => this.db.query(GATEWAY_INSERT_CALLS, [JSON.stringify(rows)]), {
      maxElapsedMs: 60_000,
    });
  }
}
