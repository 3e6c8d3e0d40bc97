import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { listAudit } from "../../auth/audit.js";
import { RequestError } from "../../errors.js";
import type { Db } from "../../store/db.js";
import { principalOf } from "../principal.js";
import { errors, json, PageLimit } from "../schemas.js";

const AuditEntrySchema = z
  .object({
    id: z.string(),
    at: z.string(),
    actor: z.string().openapi({
      description:
        "The key id that acted, `bootstrap` (OUTLAST_API_KEY), `cli` (a command on the database) or `open` (no keys configured).",
    }),
    action: z.string().openapi({
      example: "key.create",
      description: "key.create, key.revoke, webhook.create, webhook.delete, run.signal.",
    }),
    target: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEntry");

const AuditQuery = z.strictObject({
  action: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: "action", in: "query" } }),
  cursor: z
    .string()
    .max(20)
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "next_cursor of the previous page.",
    }),
  limit: PageLimit,
});

const listAuditRoute = createRoute({
  method: "get",
  path: "/v1/audit",
  tags: ["keys"],
  summary: "The audit log",
  description:
    "Who made and revoked keys, made and deleted webhooks, and signalled runs, newest first, in the caller's project.",
  request: { query: AuditQuery },
  responses: {
    200: json(
      z.object({ entries: z.array(AuditEntrySchema), next_cursor: z.string().nullable() }),
      "One page.",
    ),
    ...errors(400, 401, 403, 503),
  },
});

/** `GET /v1/audit` (admin). */
export function registerAuditRoutes(app: OpenAPIHono, db: Db): void {
  app.openapi(listAuditRoute, async (c) => {
    const q = c.req.valid("query");
    if (q.cursor !== undefined && !/^\d{1,19}$/.test(q.cursor)) {
      throw new RequestError(
        "OUTLAST_INVALID_CURSOR",
        "cursor must be the next_cursor of a previous page",
      );
    }
    const n = q.limit ?? 50;
    const rows = await listAudit(db, principalOf(c).project, {
      before: q.cursor,
      limit: n + 1,
      action: q.action,
    });
    const more = rows.length > n;
    const page = more ? rows.slice(0, n) : rows;
    return c.json(
      {
        entries: page.map((r) => ({
          id: String(r.id),
          at: new Date(r.at).toISOString(),
          actor: r.actor,
          action: r.action,
          target: r.target,
          details: r.details ?? {},
        })),
        next_cursor: more ? String(page.at(-1)?.id) : null,
      },
      200,
    );
  });
}
