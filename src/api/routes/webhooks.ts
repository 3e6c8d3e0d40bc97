import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { recordAudit } from "../../auth/audit.js";
import { webhooksSchema } from "../../config/schema.js";
import { RequestError } from "../../errors.js";
import { refusalReason } from "../../outbound/ssrf.js";
import type { Db } from "../../store/db.js";
import { isUuid } from "../../util/ids.js";
import { type DeliveryRow, type EndpointRow, WebhookStore } from "../../webhooks/store.js";
import { actorOf } from "../middleware/auth.js";
import { jsonBody } from "../middleware/json-body.js";
import { principalOf } from "../principal.js";
import { errors, json, NoQuery } from "../schemas.js";
import {
  CreatedWebhookSchema,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliverySchema,
  decodeCursor,
  encodeCursor,
  ListQuery,
  toDelivery,
  toWebhook,
  uuidOrThrow,
  WebhookIdParam,
  WebhookSchema,
} from "../webhook-schemas.js";

// ---------------------------------------------------------------- routes

const tags = ["webhooks"];

const createWebhook = createRoute({
  method: "post",
  path: "/v1/webhooks",
  tags,
  summary: "Subscribe to run events",
  description:
    "Every event of the project's runs that passes the filters is POSTed to the URL, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and retried with exponential backoff for hours. The response holds the signing secret, shown only here.",
  middleware: [jsonBody()] as const,
  request: {
    query: NoQuery,
    body: { content: { "application/json": { schema: CreateWebhookBody } }, required: true },
  },
  responses: {
    201: json(CreatedWebhookSchema, "The subscription, with its secret."),
    ...errors(400, 401, 413, 415, 503),
  },
});

const listWebhooks = createRoute({
  method: "get",
  path: "/v1/webhooks",
  tags,
  summary: "List webhook subscriptions, newest first",
  request: { query: ListQuery },
  responses: {
    200: json(
      z.object({ webhooks: z.array(WebhookSchema), next_cursor: z.string().nullable() }),
      "A page of subscriptions.",
    ),
    ...errors(400, 401, 503),
  },
});

const getSecret = createRoute({
  method: "get",
  path: "/v1/webhooks/secret",
  tags,
  summary: "The secret that signs per-run webhooks",
  description:
    "Per-run webhooks (`webhook` at submit) without a `secret` of their own are signed with it.",
  request: { query: NoQuery },
  responses: {
    200: json(z.object({ secret: z.string() }).openapi("WebhookSecret"), "The secret."),
    ...errors(401, 503),
  },
});

const listDeliveries = createRoute({
  method: "get",
  path: "/v1/webhooks/deliveries",
  tags,
  summary: "The delivery log, newest first",
  description:
    "Deliveries of subscriptions, per-run webhooks and notifiers (Slack, email), with their status, attempts and last error.",
  request: { query: DeliveriesQuery },
  responses: {
    200: json(
      z.object({ deliveries: z.array(DeliverySchema), next_cursor: z.string().nullable() }),
      "A page of deliveries.",
    ),
    ...errors(400, 401, 503),
  },
});

const getDelivery = createRoute({
  method: "get",
  path: "/v1/webhooks/deliveries/{id}",
  tags,
  summary: "A delivery with every attempt",
  request: { params: WebhookIdParam, query: NoQuery },
  responses: {
    200: json(DeliverySchema, "The delivery and its attempt log."),
    ...errors(400, 401, 404, 503),
  },
});

const redeliver = createRoute({
  method: "post",
  path: "/v1/webhooks/deliveries/{id}/redeliver",
  tags,
  summary: "Deliver again",
  description:
    "Makes the delivery due now with a fresh retry budget, whatever its status; the receiver gets the same `webhook-id` again.",
  request: { params: WebhookIdParam, query: NoQuery },
  responses: {
    202: json(DeliverySchema, "The delivery, pending."),
    ...errors(400, 401, 404, 503),
  },
});

const getWebhook = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}",
  tags,
  summary: "Get a webhook subscription",
  request: { params: WebhookIdParam, query: NoQuery },
  responses: {
    200: json(WebhookSchema, "The subscription."),
    ...errors(400, 401, 404, 503),
  },
});

const deleteWebhook = createRoute({
  method: "delete",
  path: "/v1/webhooks/{id}",
  tags,
  summary: "Delete a webhook subscription",
  description: "No more deliveries are made to it; pending ones are given up.",
  request: { params: WebhookIdParam, query: NoQuery },
  responses: {
    200: json(
      z.object({ id: z.string(), deleted: z.literal(true), dropped_deliveries: z.number().int() }),
      "Deleted.",
    ),
    ...errors(400, 401, 404, 503),
  },
});

export interface WebhookRouteDeps {
  db: Db;
  /** The config's `webhooks` section: `allowPrivateAddresses` and `secret` matter here. */
  config?: { webhooks?: z.input<typeof webhooksSchema> | undefined } | undefined;
}

/**
 * `/v1/webhooks…`: subscriptions, the default secret, the delivery log and redelivery. The
 * deliveries themselves are made by `startDeliverer` in any process.
 *
 * @example
 * ```ts
 * const app = createApi({ service });
 * registerWebhookRoutes(app, { db: service.db, config });
 * ```
 */
export function registerWebhookRoutes(app: OpenAPIHono, deps: WebhookRouteDeps): void {
  const cfg = webhooksSchema.parse(deps.config?.webhooks ?? {});
  const store = new WebhookStore(deps.db);
  // Read once per project and process; a failed read is retried by the next request.
  const secrets = new Map<string, Promise<string>>();
  const defaultSecret = (project: string): Promise<string> => {
    let secret = secrets.get(project);
    if (!secret) {
      secret = store.defaultSecret(project, cfg.secret).catch((err) => {
        secrets.delete(project);
        throw err;
      });
      secrets.set(project, secret);
    }
    return secret;
  };

  const limit = bodyLimit({
    maxSize: 64 * 1024,
    onError: () => {
      throw new RequestError("OUTLAST_BODY_TOO_LARGE", "the request body is over 65536 bytes");
    },
  });
  app.use("/v1/webhooks", limit);
  app.use("/v1/webhooks/*", limit);

  app.openapi(createWebhook, async (c) => {
    const body = c.req.valid("json");
    const refused = await refusalReason(body.url, cfg.allowPrivateAddresses ?? false);
    if (refused) {
      throw new RequestError("OUTLAST_WEBHOOK_URL_REFUSED", `url: ${refused}`);
    }
    const { project } = principalOf(c);
    const row = await store.createSubscription({ ...body, project });
    await recordAudit(deps.db, {
      project,
      actor: actorOf(c),
      action: "webhook.create",
      target: row.id,
      // The host only: a URL's path or query may hold a token.
      details: { host: new URL(body.url).host },
    });
    return c.json({ ...toWebhook(row), secret: row.secret }, 201, {
      Location: `/v1/webhooks/${row.id}`,
    });
  });

  app.openapi(listWebhooks, async (c) => {
    const q = c.req.valid("query");
    if (q.cursor && !isUuid(q.cursor)) {
      throw new RequestError(
        "OUTLAST_INVALID_CURSOR",
        "cursor must be the next_cursor of a previous page",
      );
    }
    const n = q.limit ?? 50;
    const rows = await store.listSubscriptions(principalOf(c).project, q.cursor, n + 1);
    const more = rows.length > n;
    const page = more ? rows.slice(0, n) : rows;
    return c.json(
      { webhooks: page.map(toWebhook), next_cursor: more ? (page.at(-1)?.id ?? null) : null },
      200,
    );
  });

  app.openapi(getSecret, async (c) =>
    c.json({ secret: await defaultSecret(principalOf(c).project) }, 200),
  );

  app.openapi(listDeliveries, async (c) => {
    const q = c.req.valid("query");
    const n = q.limit ?? 50;
    const rows = await store.listDeliveries({
      project: principalOf(c).project,
      endpointId: q.webhook_id ? uuidOrThrow(q.webhook_id, "webhook") : undefined,
      runId: q.run_id ? uuidOrThrow(q.run_id, "run") : undefined,
      status: q.status,
      limit: n + 1,
      before: q.cursor ? decodeCursor(q.cursor) : undefined,
    });
    const more = rows.length > n;
    const page = more ? rows.slice(0, n) : rows;
    const last = page.at(-1);
    return c.json(
      {
        deliveries: page.map((d) => toDelivery(d)),
        next_cursor: more && last ? encodeCursor(last) : null,
      },
      200,
    );
  });

  const findDelivery = async (id: string, project: string): Promise<DeliveryRow> => {
    const d = await store.getDelivery(uuidOrThrow(id, "delivery"), project);
    if (!d)
      throw new RequestError("OUTLAST_DELIVERY_NOT_FOUND", `no webhook delivery with id ${id}`);
    return d;
  };

  app.openapi(getDelivery, async (c) => {
    const d = await findDelivery(c.req.valid("param").id, principalOf(c).project);
    return c.json(toDelivery(d, await store.listAttempts(d.id)), 200);
  });

  app.openapi(redeliver, async (c) => {
    const { project } = principalOf(c);
    const d = await findDelivery(c.req.valid("param").id, project);
    await store.redeliver(d.id);
    return c.json(toDelivery((await store.getDelivery(d.id, project)) ?? d), 202);
  });

  const findWebhook = async (id: string, project: string): Promise<EndpointRow> => {
    const w = await store.getSubscription(uuidOrThrow(id, "webhook"), project);
    if (!w)
      throw new RequestError("OUTLAST_WEBHOOK_NOT_FOUND", `no webhook subscription with id ${id}`);
    return w;
  };

  app.openapi(getWebhook, async (c) =>
    c.json(toWebhook(await findWebhook(c.req.valid("param").id, principalOf(c).project)), 200),
  );

  app.openapi(deleteWebhook, async (c) => {
    const { project } = principalOf(c);
    const w = await findWebhook(c.req.valid("param").id, project);
    const dropped = await store.disableSubscription(w.id, project);
    if (dropped === undefined) {
      throw new RequestError(
        "OUTLAST_WEBHOOK_NOT_FOUND",
        `no webhook subscription with id ${w.id}`,
      );
    }
    await recordAudit(deps.db, {
      project: principalOf(c).project,
      actor: actorOf(c),
      action: "webhook.delete",
      target: w.id,
      details: { host: w.url === null ? null : new URL(w.url).host },
    });
    return c.json({ id: w.id, deleted: true as const, dropped_deliveries: dropped }, 200);
  });
}
