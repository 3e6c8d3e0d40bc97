import type { Db } from "../store/db.js";
import { withDbRetry } from "../store/retry.js";
import * as W from "../store/sql/webhooks.js";
import { DEFAULT_PROJECT } from "../types/index.js";
import { uuidv7 } from "../util/ids.js";
import { generateSecret } from "./signature.js";

export interface EndpointRow {
  id: string;
  kind: "webhook" | "slack" | "email";
  url: string | null;
  event_types: string[];
  agents: string[] | null;
  run_id: string | null;
  config_key: string | null;
  description: string | null;
  created_at: Date;
  disabled_at: Date | null;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  kind: string;
  url: string | null;
  config_key: string | null;
  run_id: string;
  event_seq: number;
  event_type: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

export interface AttemptRow {
  attempt: number;
  at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  attempts_base: number;
  event_type: string;
  run_id: string;
  event_seq: number;
  kind: string;
  url: string | null;
  secret: string | null;
  config_key: string | null;
  disabled_at: Date | null;
  event_data: Record<string, unknown> | null;
  event_at: Date | null;
  agent: string | null;
  run_status: string | null;
  run_created_at: Date | null;
  run_started_at: Date | null;
  run_finished_at: Date | null;
  run_error: { message?: string; code?: string } | null;
  /** The run's trace (migration 014): a webhook carries it on as `traceparent`. */
  run_trace_id: string | null;
  run_span_id: string | null;
}

export const DEFAULT_SECRET_NAME = "default";

/**
 * The name of a project's default signing secret. Each project signs with its own: a
 * secret shared by projects would let one project's admin sign as another's webhooks.
 * The default project's keeps its name from before projects (and `webhooks.secret`).
 */
export function defaultSecretName(project: string): string {
  return project === DEFAULT_PROJECT ? DEFAULT_SECRET_NAME : `project:${project}`;
}

/** Typed access to the webhook SQL (src/store/sql/webhooks.ts). */
export class WebhookStore {
  constructor(readonly db: Db) {}

  async createSubscription(s: {
    project: string;
    url: string;
    events: string[];
    agents?: string[] | undefined;
    description?: string | undefined;
  }): Promise<EndpointRow & { secret: string }> {
    const secret = generateSecret();
    const [row] = await withDbRetry(() =>
      this.db.query<EndpointRow>(W.INSERT_SUBSCRIPTION, [
        uuidv7(),
        s.url,
        secret,
        s.events,
        s.agents ?? null,
        s.description ?? null,
        s.project,
      ]),
    );
    return { ...row!, secret };
  }

  listSubscriptions(
    project: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<EndpointRow[]> {
    return withDbRetry(() =>
      this.db.query<EndpointRow>(W.LIST_SUBSCRIPTIONS, [cursor ?? null, limit, project]),
    );
  }

  async getSubscription(id: string, project: string): Promise<EndpointRow | undefined> {
    return (
      await withDbRetry(() => this.db.query<EndpointRow>(W.GET_SUBSCRIPTION, [id, project]))
    )[0];
  }

  /** Undefined when there is no such subscription; else how many pending deliveries were dropped. */
  async disableSubscription(id: string, project: string): Promise<number | undefined> {
    const [row] = await withDbRetry(() =>
      this.db.query<{ dropped: number }>(W.DISABLE_SUBSCRIPTION, [id, project]),
    );
    return row?.dropped;
  }

  /**
   * The secret a project's per-run webhooks are signed with unless they bring their own.
   * `configured` (`webhooks.secret`) is the default project's.
   */
  async defaultSecret(project: string, configured?: string): Promise<string> {
    const name = defaultSecretName(project);
    if (configured && project === DEFAULT_PROJECT) {
      await withDbRetry(() => this.db.query(W.SET_SECRET, [name, configured]));
      return configured;
    }
    const get = async () =>
      (await this.db.query<{ secret: string }>(W.GET_SECRET, [name]))[0]?.secret;
    const found = await withDbRetry(get);
    if (found) return found;
    await withDbRetry(() => this.db.query(W.INSERT_SECRET, [name, generateSecret()]));
    return (await withDbRetry(get))!;
  }

  /**
   * Attaches a webhook to a run and queues deliveries for the events it already has, under
   * the fan-out's lock, so every event of the run is delivered once whether it was written
   * before or after the webhook. Idempotent per (run, url).
   */
  attachRunWebhook(
    runId: string,
    url: string,
    events: string[],
    secret: string,
  ): Promise<EndpointRow> {
    return withDbRetry(() =>
      this.db.transaction(async (tx) => {
        await tx.query(W.LOCK_CURSOR);
        const [ep] = await tx.query<EndpointRow>(W.UPSERT_RUN_WEBHOOK, [
          uuidv7(),
          url,
          secret,
          events,
          runId,
        ]);
        await tx.query(W.BACKFILL_RUN_WEBHOOK, [ep!.id, runId]);
        await tx.query("SELECT pg_notify($1, $2)", [W.WEBHOOKS_CHANNEL, runId]);
        return ep!;
      }),
    );
  }

  async upsertNotifier(
    key: string,
    kind: "slack" | "email",
    events: string[],
    agents: string[] | undefined,
  ): Promise<void> {
    await withDbRetry(() =>
      this.db.query(W.UPSERT_NOTIFIER, [uuidv7(), key, kind, events, agents ?? null]),
    );
  }

  async disableOtherNotifiers(keep: string[]): Promise<void> {
    await withDbRetry(() => this.db.query(W.DISABLE_OTHER_NOTIFIERS, [keep]));
  }

  /** One fan-out batch; returns how many events it read. */
  async fanOut(batch: number): Promise<{ events: number; deliveries: number }> {
    const [row] = await this.db.query<{ events: number; deliveries: number }>(W.FAN_OUT, [batch]);
    return { events: row?.events ?? 0, deliveries: row?.deliveries ?? 0 };
  }

  claim(limit: number, leaseMs: number, kinds: string[]): Promise<ClaimedDelivery[]> {
    return this.db.query<ClaimedDelivery>(W.CLAIM_DELIVERIES, [limit, leaseMs, kinds]);
  }

  async recordAttempt(a: {
    id: string;
    attempt: number;
    outcome: "delivered" | "retry" | "failed";
    retryDelayMs: number;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
    excerpt: string | null;
  }): Promise<boolean> {
    const [row] = await this.db.query<{ updated: number }>(W.RECORD_ATTEMPT, [
      a.id,
      a.attempt,
      a.outcome,
      Math.round(a.retryDelayMs),
      a.statusCode,
      a.error,
      Math.round(a.durationMs),
      a.excerpt,
    ]);
    return (row?.updated ?? 0) > 0;
  }

  async msUntilNextDue(kinds: string[]): Promise<number | null> {
    const [row] = await this.db.query<{ ms: number | null }>(W.NEXT_DELIVERY_DUE, [kinds]);
    return row?.ms ?? null;
  }

  listDeliveries(f: {
    project: string;
    endpointId?: string | undefined;
    runId?: string | undefined;
    status?: string | undefined;
    limit: number;
    before?: { createdAt: string; id: string } | undefined;
  }): Promise<DeliveryRow[]> {
    return withDbRetry(() =>
      this.db.query<DeliveryRow>(W.LIST_DELIVERIES, [
        f.endpointId ?? null,
        f.runId ?? null,
        f.status ?? null,
        f.limit,
        f.before?.createdAt ?? null,
        f.before?.id ?? null,
        f.project,
      ]),
    );
  }

  async getDelivery(id: string, project: string): Promise<DeliveryRow | undefined> {
    return (await withDbRetry(() => this.db.query<DeliveryRow>(W.GET_DELIVERY, [id, project])))[0];
  }

  listAttempts(id: string): Promise<AttemptRow[]> {
    return withDbRetry(() => this.db.query<AttemptRow>(W.LIST_ATTEMPTS, [id]));
  }

  async redeliver(id: string): Promise<boolean> {
    return (await withDbRetry(() => this.db.query(W.REDELIVER, [id]))).length > 0;
  }

  async runCost(runId: string): Promise<{ cost_usd: number; calls: number }> {
    const [row] = await this.db.query<{ cost_usd: number; calls: number }>(W.RUN_COST, [runId]);
    return { cost_usd: Number(row?.cost_usd ?? 0), calls: row?.calls ?? 0 };
  }
}
