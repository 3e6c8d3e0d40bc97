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
import { Batcher } from "../../util/batcher.js";
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
  attempts: number;
  stream: boolean;
  errorCode: string | undefined;
}

const LINGER_MS = 25;

export class CallRecorder {
  private readonly batcher: Batcher<CallRecord, undefined>;
  private buffer: CallRecord[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.batcher = new Batcher((items) => this.write(items), { maxBatch: 500 });
  }

  record(r: CallRecord): void {
    this.buffer.push(r);
    this.timer ??= setTimeout(() => this.release(), LINGER_MS);
  }

  async flush(): Promise<void> {
    this.release();
    await this.batcher.drain();
  }

  private release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    for (const r of rows) {
      this.batcher.submit(r).catch((err: unknown) => {
        this.log.error("gateway: accounting rows lost", {
          error: String(err),
          requested: r.requested,
        });
      });
    }
  }

  private async write(items: CallRecord[]): Promise<undefined[]> {
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
      attempts: r.attempts,
      stream: r.stream,
      error_code: r.errorCode ?? null,
    }));
    // Accounting must not be lost to a database restart: retry for up to a minute.
    await withDbRetry(() => this.db.query(GATEWAY_INSERT_CALLS, [JSON.stringify(rows)]), {
      maxElapsedMs: 60_000,
    });
    return items.map(() => undefined);
  }
}
