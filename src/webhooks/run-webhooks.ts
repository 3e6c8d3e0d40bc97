import { DEFAULT_NOTIFY_EVENTS } from "../events/types.js";
import type { Db } from "../store/db.js";
import { WebhookStore } from "./store.js";

/** `webhook` of POST /v1/runs. */
export interface RunWebhook {
  url: string;
  /** Event filter; default the end of the run (run.succeeded, run.failed, run.cancelled). */
  events?: string[] | undefined;
  /** `whsec_…`; default the deployment's secret (GET /v1/webhooks/secret). */
  secret?: string | undefined;
}

/**
 * Attaches a webhook to a run after it is submitted. The run may already have events by
 * then (a worker can start it within milliseconds): they are queued for delivery in the
 * same transaction as the webhook, under the fan-out's lock, so the webhook gets every
 * matching event of the run exactly once, however the two interleave. Idempotent per
 * (run, url): a submit retried with its idempotency key attaches nothing twice.
 *
 * @example
 * ```ts
 * const submitted = await service.submit(body);
 * if (body.webhook) await attachRunWebhook(service.db, submitted.run, body.webhook);
 * ```
 */
export async function attachRunWebhook(
  db: Db,
  run: { id: string; project: string },
  webhook: RunWebhook,
): Promise<void> {
  const store = new WebhookStore(db);
  const secret = webhook.secret ?? (await store.defaultSecret(run.project));
  await store.attachRunWebhook(
    run.id,
    webhook.url,
    webhook.events ?? DEFAULT_NOTIFY_EVENTS,
    secret,
  );
}
