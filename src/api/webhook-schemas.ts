import { z } from "@hono/zod-openapi";
import { RequestError } from "../errors.js";
import { isUuid } from "../util/ids.js";
import type { AttemptRow, DeliveryRow, EndpointRow } from "../webhooks/store.js";
import { EventPattern, PageLimit, WebhookUrl } from "./schemas.js";

/**
 * The webhook API's shapes: request and response schemas of /v1/webhooks… and the
 * mapping from store rows to the resources the API shows (routes/webhooks.ts).
 */

// ---------------------------------------------------------------- schemas

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    url: z.string(),
    events: z.array(z.string()),
    agents: z.array(z.string()).nullable(),
    description: z.string().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description:
      "The `whsec_…` signing secret; shown only here. Verify deliveries with any Standard Webhooks library.",
  }),
}).openapi("CreatedWebhook");

export const CreateWebhookBody = z
  .strictObject({
    url: WebhookUrl,
    events: z
      .array(EventPattern)
      .min(1)
      .max(20)
      .openapi({ example: ["run.succeeded", "run.failed"] }),
    agents: z.array(z.string().min(1).max(128)).min(1).max(50).optional().openapi({
      description: "Only runs of these agents. Default: all.",
    }),
    description: z.string().max(500).optional(),
  })
  .openapi("CreateWebhook");

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    at: z.string().openapi({ format: "date-time" }),
    duration_ms: z.number().int(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    response_excerpt: z.string().nullable(),
  })
  .openapi("DeliveryAttempt");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ format: "uuid", description: "Also the `webhook-id` header." }),
    webhook_id: z.string().openapi({ format: "uuid" }),
    kind: z.enum(["webhook", "slack", "email"]),
    url: z.string().nullable(),
    run_id: z.string().openapi({ format: "uuid" }),
    event_seq: z.number().int(),
    event_type: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable().openapi({ format: "date-time" }),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
    delivered_at: z.string().nullable().openapi({ format: "date-time" }),
    attempt_log: z.array(AttemptSchema).optional(),
  })
  .openapi("WebhookDelivery");

export const WebhookIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, format: "uuid" }),
});

export const ListQuery = z.strictObject({
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" } }),
  limit: PageLimit,
});

export const DeliveriesQuery = ListQuery.extend({
  webhook_id: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: "webhook_id", in: "query" } }),
  run_id: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: "run_id", in: "query" } }),
  status: z
    .enum(["pending", "delivered", "failed"])
    .optional()
    .openapi({ param: { name: "status", in: "query" } }),
});

// ---------------------------------------------------------------- resources

export function iso(d: Date | string | null | undefined): string | null {
  if (d === null || d === undefined) return null;
  const t = d instanceof Date ? d : new Date(d);
  return Number.isFinite(t.getTime()) ? t.toISOString() : null;
}

export function toWebhook(r: EndpointRow) {
  return {
    id: r.id,
    url: r.url ?? "",
    events: r.event_types,
    agents: r.agents,
    description: r.description,
    created_at: iso(r.created_at)!,
  };
}

export function toAttempt(a: AttemptRow) {
  return {
    attempt: a.attempt,
    at: iso(a.at)!,
    duration_ms: a.duration_ms,
    status_code: a.status_code,
    error: a.error,
    response_excerpt: a.response_excerpt,
  };
}

export function toDelivery(d: DeliveryRow, attempts?: AttemptRow[]) {
  return {
    id: d.id,
    webhook_id: d.endpoint_id,
    kind: d.kind as "webhook" | "slack" | "email",
    url: d.url,
    run_id: d.run_id,
    event_seq: d.event_seq,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === "pending" ? iso(d.next_attempt_at) : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: iso(d.created_at)!,
    updated_at: iso(d.updated_at)!,
    delivered_at: iso(d.delivered_at),
    ...(attempts ? { attempt_log: attempts.map(toAttempt) } : {}),
  };
}

export function uuidOrThrow(id: string, what: string): string {
  if (!isUuid(id))
    throw new RequestError("OUTLAST_INVALID_ID", `"${id}" is not a ${what} id (a UUID)`);
  return id;
}

export function encodeCursor(d: DeliveryRow): string {
  return Buffer.from(`${iso(d.created_at)}|${d.id}`).toString("base64url");
}

export function decodeCursor(c: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(c, "base64url").toString("utf8").split("|");
  if (!createdAt || !id || !isUuid(id) || !Number.isFinite(Date.parse(createdAt))) {
    throw new RequestError(
      "OUTLAST_INVALID_CURSOR",
      "cursor must be the next_cursor of a previous page",
    );
  }
  return { createdAt, id };
}
