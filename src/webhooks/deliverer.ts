import type { z } from "zod";
import { EmailNotifier } from "../notify/email.js";
import type { RunSummary } from "../notify/message.js";
import { sendSlack } from "../notify/slack.js";
import type { SendResult } from "../outbound/send.js";
import { postBody } from "../outbound/send.js";
import type { Db } from "../store/db.js";
import { WEBHOOKS_CHANNEL } from "../store/sql/webhooks.js";
import { traceparentOf } from "../tracing/traceparent.js";
import type { SpanIds, Tracing } from "../tracing/types.js";
import { DEFAULT_PROJECT } from "../types/index.js";
import { type Logger, silentLogger } from "../util/log.js";
import { Wakeup } from "../util/signal.js";
import { notifiersSchema, webhooksSchema } from "./config-schema.js";
import { signatureHeaders } from "./signature.js";
import { type ClaimedDelivery, WebhookStore } from "./store.js";

export interface DelivererOptions {
  db: Db;
  /** The `webhooks`, `notifiers` and `api` sections of the config (defaults applied here). */
  config: {
    webhooks?: z.input<typeof webhooksSchema> | undefined;
    notifiers?: z.input<typeof notifiersSchema> | undefined;
    api?: { host?: string; port?: number } | undefined;
  };
  log?: Logger;
  /** A span per webhook attempt, under the run's span (src/tracing). Default: none. */
  tracing?: Tracing | undefined;
}

export interface Deliverer {
  /** Stops claiming, waits for attempts in flight (up to the send timeout), stops listening. */
  stop(): Promise<void>;
}

const FAN_OUT_BATCH = 500;
/** The engine's NOTIFY when runs finish (FINISH_RUNS, CANCEL_RUN). */
const DONE_CHANNEL = "outlast_done";

/** The span of one webhook attempt, a child of the run's span. */
function webhookSpan(tracing: Tracing, run: SpanIds, d: ClaimedDelivery) {
  return tracing.start(`webhook ${d.event_type}`, run, {
    kind: "client",
    attributes: {
      "http.request.method": "POST",
      "outlast.run.id": d.run_id,
      "outlast.webhook.delivery_id": d.id,
      "outlast.webhook.event": d.event_type,
      "outlast.webhook.attempt": d.attempts,
    },
  });
}

/** Retry delay after the n-th failed attempt: initial × 3^(n−1), capped, ±20 %. */
export function retryDelayMs(n: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 3 ** Math.max(0, n - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The webhook deliverer. Any number of processes may run one against the same store:
 *
 * 1. fan-out — new events (read behind a cursor, see FAN_OUT) become one delivery per
 *    endpoint that wants them: project subscriptions, per-run webhooks, Slack and email;
 * 2. claim — due deliveries are leased with SKIP LOCKED; the lease is the delivery's
 *    next_attempt_at, so a process killed mid-attempt leaves it to another after the lease;
 * 3. send — signed POST (Standard Webhooks), Slack message or email;
 * 4. record — the attempt goes to the log; the delivery becomes delivered, failed (a refused
 *    address, or attempts spent) or pending again after the backoff. Fenced by the attempt
 *    number, so the late result of a lapsed lease changes only the log.
 *
 * At least once: a receiver may see a message again after a crash or timeout, with the
 * same `webhook-id`, by which it de-duplicates.
 *
 * @example
 * ```ts
 * const deliverer = await startDeliverer({ db, config, log });
 * // on shutdown
 * await deliverer.stop();
 * ```
 */
export async function startDeliverer(opts: DelivererOptions): Promise<Deliverer> {
  const cfg = webhooksSchema.parse(opts.config.webhooks ?? {});
  const notifiers = notifiersSchema.parse(opts.config.notifiers ?? {});
  const log = (opts.log ?? silentLogger).child({ component: "webhooks" });
  const store = new WebhookStore(opts.db);
  const publicUrl = (
    notifiers.publicUrl ??
    `http://${opts.config.api?.host ?? "127.0.0.1"}:${opts.config.api?.port ?? 7373}`
  ).replace(/\/$/, "");

  if (cfg.secret) await store.defaultSecret(DEFAULT_PROJECT, cfg.secret);
  const kinds = ["webhook"];
  const keep: string[] = [];
  if (notifiers.slack) {
    await store.upsertNotifier(
      "config:slack",
      "slack",
      notifiers.slack.events,
      notifiers.slack.agents,
    );
    kinds.push("slack");
    keep.push("config:slack");
  }
  const mailer = notifiers.email ? new EmailNotifier(notifiers.email) : undefined;
  if (notifiers.email) {
    await store.upsertNotifier(
      "config:email",
      "email",
      notifiers.email.events,
      notifiers.email.agents,
    );
    kinds.push("email");
    keep.push("config:email");
  }
  await store.disableOtherNotifiers(keep);

  const wake = new Wakeup();
  let stopping = false;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  // Woken when runs finish (the engine's own NOTIFY), on redelivery and per-run webhooks;
  // other events wait for the poll. Listening on outlast_events would not help: it fires
  // only for runs an SSE client watches (see migration 004).
  const unlisten = [
    await opts.db.listen(
      DONE_CHANNEL,
      () => wake.notify(),
      () => wake.notify(),
    ),
    await opts.db.listen(
      WEBHOOKS_CHANNEL,
      () => wake.notify(),
      () => wake.notify(),
    ),
  ];

  async function summary(d: ClaimedDelivery): Promise<RunSummary> {
    const data = d.event_data ?? {};
    const started = (data.started_at as string | undefined) ?? d.run_started_at;
    const finished = (data.finished_at as string | undefined) ?? d.run_finished_at;
    const cost = await store.runCost(d.run_id).catch(() => ({ cost_usd: 0, calls: 0 }));
    const err = (data.error as { message?: string } | undefined) ?? undefined;
    return {
      runId: d.run_id,
      agent: d.agent ?? (data.agent as string | undefined) ?? "(unknown agent)",
      event: d.event_type,
      status: (data.status as string | undefined) ?? d.run_status ?? d.event_type,
      durationMs:
        started && finished ? new Date(finished).getTime() - new Date(started).getTime() : null,
      costUsd: cost.calls > 0 ? cost.cost_usd : null,
      link: `${publicUrl}/v1/runs/${d.run_id}`,
      error: d.event_type === "run.failed" ? (err?.message ?? null) : null,
      at: new Date(d.event_at ?? Date.now()).toISOString(),
    };
  }

  async function send(d: ClaimedDelivery): Promise<SendResult> {
    if (d.disabled_at) {
      return {
        status: null,
        excerpt: null,
        error: "OUTLAST_WEBHOOK_DISABLED: the endpoint was deleted",
        permanent: true,
      };
    }
    if (d.kind === "webhook") {
      const body = JSON.stringify({
        type: d.event_type,
        timestamp: new Date(d.event_at ?? Date.now()).toISOString(),
        data: { run_id: d.run_id, seq: d.event_seq, agent: d.agent, ...(d.event_data ?? {}) },
      });
      const headers = signatureHeaders(d.secret ?? "", d.id, body);
      const run: SpanIds | undefined =
        d.run_trace_id && d.run_span_id
          ? { traceId: d.run_trace_id, spanId: d.run_span_id }
          : undefined;
      // The run's trace goes on: under a span of this attempt when this process traces,
      // else straight under the run's span.
      const span = run && opts.tracing ? webhookSpan(opts.tracing, run, d) : undefined;
      const parent = span?.ids ?? run;
      const res = await postBody(
        d.url ?? "",
        body,
        parent ? { ...headers, traceparent: traceparentOf(parent) } : headers,
        {
          timeoutMs: cfg.timeoutMs,
          allowPrivateAddresses: cfg.allowPrivateAddresses ?? false,
        },
      );
      if (span) {
        if (res.status !== null) span.set({ "http.response.status_code": res.status });
        if (res.error) span.fail(new Error(res.error));
        span.end();
      }
      return res;
    }
    if (d.kind === "slack" && notifiers.slack) {
      return sendSlack(notifiers.slack.webhookUrl, await summary(d), cfg.timeoutMs);
    }
    if (d.kind === "email" && mailer) {
      try {
        const answer = await mailer.send(await summary(d));
        return { status: 250, excerpt: answer.slice(0, 1024), error: null, permanent: false };
      } catch (err) {
        return {
          status: null,
          excerpt: null,
          error: `OUTLAST_NOTIFIER_ERROR: ${(err as Error).message}`,
          permanent: false,
        };
      }
    }
    return {
      status: null,
      excerpt: null,
      error: `OUTLAST_NOTIFIER_NOT_CONFIGURED: this process has no ${d.kind} notifier in its config`,
      permanent: true,
    };
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const t0 = performance.now();
    const res = await send(d);
    const spent = d.attempts - d.attempts_base;
    const outcome = !res.error
      ? "delivered"
      : res.permanent || spent >= cfg.maxAttempts
        ? "failed"
        : "retry";
    const retryDelay =
      outcome === "retry" ? retryDelayMs(spent, cfg.initialDelayMs, cfg.maxDelayMs) : 0;
    const current = await store
      .recordAttempt({
        id: d.id,
        attempt: d.attempts,
        outcome,
        retryDelayMs: retryDelay,
        statusCode: res.status,
        error: res.error,
        durationMs: performance.now() - t0,
        excerpt: res.excerpt,
      })
      .catch((err) => {
        // The lease lapses and another attempt follows: at least once, never lost.
        log.warn("could not record a webhook attempt", { delivery: d.id, error: String(err) });
        return true;
      });
    if (!current) log.info("a late webhook attempt finished after its lease", { delivery: d.id });
    else if (outcome === "failed")
      log.warn("webhook delivery failed", { delivery: d.id, error: res.error });
    else if (outcome === "retry")
      log.debug("webhook attempt failed; retrying", {
        delivery: d.id,
        error: res.error,
        retryDelay,
      });
  }

  async function fanOut(): Promise<void> {
    for (;;) {
      const { events } = await store.fanOut(FAN_OUT_BATCH);
      if (events < FAN_OUT_BATCH) return;
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      let claimedAll = false;
      try {
        await fanOut();
        const free = cfg.concurrency - inFlight;
        if (free > 0) {
          const claimed = await store.claim(free, cfg.leaseMs, kinds);
          claimedAll = claimed.length === free;
          for (const d of claimed) {
            inFlight++;
            const p = deliver(d)
              .catch((err) =>
                log.error("webhook delivery crashed", { delivery: d.id, error: String(err) }),
              )
              .finally(() => {
                inFlight--;
                running.delete(p);
                wake.notify();
              });
            running.add(p);
          }
        }
      } catch (err) {
        log.warn("webhook deliverer: the database may be away", { error: String(err) });
      }
      if (claimedAll || stopping) continue;
      let waitMs = cfg.pollIntervalMs;
      try {
        const due = await store.msUntilNextDue(kinds);
        if (due !== null) waitMs = Math.max(5, Math.min(waitMs, due + 5));
      } catch {
        // poll
      }
      await wake.wait(waitMs);
      // Events come in bursts (a journal batch, many runs finishing): let them gather.
      if (!stopping) await new Promise((r) => setTimeout(r, 10));
    }
  }

  const done = loop();
  log.info("webhook deliverer started", { kinds });
  return {
    async stop() {
      stopping = true;
      wake.notify();
      await done;
      await Promise.race([
        Promise.all([...running]),
        new Promise((r) => setTimeout(r, cfg.timeoutMs + 1_000)),
      ]);
      for (const u of unlisten) await u().catch(() => {});
      mailer?.close();
    },
  };
}
