import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { KeyRow } from "../../auth/credentials.js";
import { createKey, listKeys, revokeKey } from "../../auth/keys.js";
import { RequestError } from "../../errors.js";
import type { Db } from "../../store/db.js";
import { ROLES } from "../../types/index.js";
import { actorOf } from "../middleware/auth.js";
import { jsonBody } from "../middleware/json-body.js";
import { principalOf } from "../principal.js";
import { errors, json, NoQuery, PageLimit } from "../schemas.js";

const tags = ["keys"];

const KeySchema = z
  .object({
    id: z.string().openapi({ example: "k3x9q2m7v1ab" }),
    prefix: z.string().openapi({
      example: "olk_k3x9q2m7v1ab",
      description: "What to recognise the key by; the secret is never shown again.",
    }),
    name: z.string(),
    role: z.enum(ROLES),
    source: z.enum(["api", "config"]).openapi({
      description:
        "api: made here or with `outlast keys create`; config: gateway.keys (read-only).",
    }),
    project: z.string(),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiKey");

const CreatedKeySchema = KeySchema.extend({
  key: z.string().openapi({
    description: "The key itself, shown only in this answer: store it now.",
    example: "olk_k3x9q2m7v1ab_4hJ0…",
  }),
}).openapi("CreatedApiKey");

const CreateKeyBody = z
  .strictObject({
    name: z.string().min(1).max(200),
    role: z.enum(ROLES),
    expires_at: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "After this instant the key is refused. Default: never." }),
  })
  .openapi("CreateApiKey");

const KeyIdParam = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});

const ListKeysQuery = z.strictObject({
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "next_cursor of the previous page.",
    }),
  limit: PageLimit,
});

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/keys",
  tags,
  summary: "Make an API key",
  description:
    "A key of the caller's project with a role (`read` < `submit` < `admin`). The answer holds the key, shown only here; the server keeps a SHA-256 of it.",
  middleware: [jsonBody()] as const,
  request: {
    query: NoQuery,
    body: { content: { "application/json": { schema: CreateKeyBody } }, required: true },
  },
  responses: {
    201: json(CreatedKeySchema, "The key, with its secret."),
    ...errors(400, 401, 403, 413, 415, 503),
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/keys",
  tags,
  summary: "The project's API keys",
  description:
    "Newest first, revoked and config keys included (never a secret). Run tokens are not listed: they end with their run.",
  request: { query: ListKeysQuery },
  responses: {
    200: json(
      z.object({ keys: z.array(KeySchema), next_cursor: z.string().nullable() }),
      "One page.",
    ),
    ...errors(400, 401, 403, 503),
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/keys/{id}",
  tags,
  summary: "Revoke an API key",
  description:
    "Every process refuses the key within a second. Revoking twice answers the same. Config keys are read-only (409): remove them from the config.",
  request: { query: NoQuery, params: KeyIdParam },
  responses: {
    200: json(KeySchema, "The key, revoked."),
    ...errors(400, 401, 403, 404, 409, 503),
  },
});

function iso(d: Date | string | null): string | null {
  return d === null ? null : new Date(d).toISOString();
}

function toKey(r: KeyRow): z.infer<typeof KeySchema> {
  return {
    id: r.id,
    prefix: r.prefix,
    name: r.name,
    role: r.role,
    source: r.source === "config" ? "config" : "api",
    project: r.project,
    created_at: iso(r.created_at) as string,
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
  };
}

function decodeKeyCursor(c: string): { createdUs: string; id: string } {
  const [createdUs, id] = Buffer.from(c, "base64url").toString("utf8").split("|");
  if (!createdUs || !id || !/^\d{1,19}$/.test(createdUs) || id.length > 64) {
    throw new RequestError(
      "OUTLAST_INVALID_CURSOR",
      "cursor must be the next_cursor of a previous page",
    );
  }
  return { createdUs, id };
}

/**
 * `/v1/keys`: make, list and revoke the caller's project's keys (admin; the route table
 * in src/api/route-roles.ts says so). Each change is written to the audit log.
 */
export function registerKeyRoutes(app: OpenAPIHono, db: Db): void {
  app.openapi(createKeyRoute, async (c) => {
    const body = c.req.valid("json");
    const expiresAt = body.expires_at === undefined ? undefined : new Date(body.expires_at);
    if (expiresAt !== undefined && expiresAt.getTime() <= Date.now()) {
      throw new RequestError("OUTLAST_INVALID_REQUEST", "expires_at: must be in the future");
    }
    const { token, row } = await createKey(db, {
      project: principalOf(c).project,
      role: body.role,
      name: body.name,
      expiresAt,
      actor: actorOf(c),
    });
    return c.json({ ...toKey(row), key: token }, 201, { Location: `/v1/keys/${row.id}` });
  });

  app.openapi(listKeysRoute, async (c) => {
    const q = c.req.valid("query");
    const n = q.limit ?? 50;
    const rows = await listKeys(db, principalOf(c).project, {
      after: q.cursor ? decodeKeyCursor(q.cursor) : undefined,
      limit: n + 1,
    });
    const more = rows.length > n;
    const page = more ? rows.slice(0, n) : rows;
    const last = page.at(-1);
    return c.json(
      {
        keys: page.map(toKey),
        next_cursor:
          more && last ? Buffer.from(`${last.created_us}|${last.id}`).toString("base64url") : null,
      },
      200,
    );
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const out = await revokeKey(db, principalOf(c).project, id, actorOf(c));
    if (out.kind === "not_found") {
      throw new RequestError("OUTLAST_KEY_NOT_FOUND", `no API key with id ${id}`);
    }
    if (out.kind === "read_only") {
      throw new RequestError(
        "OUTLAST_KEY_READ_ONLY",
        `key ${id} comes from config.gateway.keys; remove it from the config to revoke it`,
      );
    }
    return c.json(toKey(out.row), 200);
  });
}
