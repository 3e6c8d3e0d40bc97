/**
 * The gateway's HTTP routes, answering in the caller's own wire format:
 *
 *   POST /v1/chat/completions   OpenAI-compatible (plain and streaming)
 *   POST /v1/messages           Anthropic-compatible (plain and streaming)
 *   POST /v1/messages/count_tokens  input tokens, counted by the gateway
 *   POST /v1/responses          OpenAI's Responses API, stateless (plain and streaming)
 *   GET|DELETE /v1/responses/:id    400: the gateway stores no responses
 *   POST /v1/embeddings         OpenAI-compatible, OpenAI-format targets only
 *   GET  /v1/models             aliases and configured models (Anthropic shape when the
 *                               request carries anthropic-version)
 *   GET  /v1/usage              usage totals: ?group_by=model,feature&from=…&to=…
 *
 * Every failure is caught here and rendered in the caller's shape; a thrown error never
 * reaches the app's own error handler (whose shape the SDKs would not parse).
 */
import type { Context, Hono } from "hono";
import { USAGE_GROUPS, type UsageGroup } from "../../store/sql/gateway.js";
import { principalOf } from "../../util/principal.js";
import type { WireFormat } from "../config.js";
import { GatewayError } from "../errors.js";
import type { Gateway } from "../gateway.js";
import { NO_STORED_RESPONSES } from "../responses/request.js";
import { type CallRequest, GatewayHttp, type Reply } from "./call.js";
import { documentGateway, type OpenApiRegistryLike } from "./openapi.js";
import { headerGetter } from "./request.js";

/** The paths `mountGateway` serves; an app-wide auth middleware should let them through. */
export const GATEWAY_PATHS: readonly string[] = [
  "/v1/chat/completions",
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/v1/responses",
  "/v1/responses/:id",
  "/v1/embeddings",
  "/v1/models",
  "/v1/usage",
];

/** Anything with Hono's `get`/`post` — a Hono or OpenAPIHono app. */
// biome-ignore lint/suspicious/noExplicitAny: accepts Hono apps of any Env/Schema.
type HonoLike = Pick<Hono<any, any, any>, "get" | "post" | "delete">;

/**
 * Adds the gateway's routes to an app. Pass the `GatewayHttp` that a node:http fast path
 * (`gatewayFastPath`) also serves from, so both use the same handlers and keys.
 *
 * @example
 * const app = createApi({ service });
 * const gateway = createGateway({ db, config });
 * mountGateway(app, gateway);
 * // OpenAI SDK: new OpenAI({ baseURL: `${url}/v1`, apiKey })
 * // Anthropic SDK: new Anthropic({ baseURL: url, authToken: apiKey })
 */
export function mountGateway(
  app: HonoLike,
  gateway: Gateway,
  http: GatewayHttp = new GatewayHttp(gateway),
): void {
  const keys = http.keys;
  const fail = (c: Context, format: WireFormat, err: unknown) =>
    toResponse(http.fail(format, callRequest(c), err));

  const model = (format: WireFormat) => async (c: Context) =>
    toResponse(await http.model(format, callRequest(c)));

  app.post("/v1/chat/completions", model("openai"));
  app.post("/v1/messages", model("anthropic"));
  app.post("/v1/messages/count_tokens", async (c: Context) =>
    toResponse(await http.countTokens(callRequest(c))),
  );
  app.post("/v1/responses", async (c: Context) => toResponse(await http.responses(callRequest(c))));
  const noStore = (c: Context) =>
    fail(
      c,
      "openai",
      new GatewayError(400, "OUTLAST_GATEWAY_NO_STORED_RESPONSES", NO_STORED_RESPONSES, {
        param: "id",
      }),
    );
  app.get("/v1/responses/:id", noStore);
  app.delete("/v1/responses/:id", noStore);
  app.post("/v1/embeddings", async (c: Context) =>
    toResponse(await http.embeddings(callRequest(c))),
  );
  if ("openAPIRegistry" in app) documentGateway(app as unknown as OpenApiRegistryLike);

  app.get("/v1/models", (c: Context) => {
    const header = headerGetter(c);
    const format: WireFormat = header("anthropic-version") ? "anthropic" : "openai";
    try {
      keys.authenticate(header, format, "read");
    } catch (err) {
      return fail(c, format, err);
    }
    const names = gateway.models();
    if (format === "anthropic") {
      const data = names.map((id) => ({
        type: "model",
        id,
        display_name: id,
        created_at: "1970-01-01T00:00:00Z",
      }));
      return c.json({
        data,
        has_more: false,
        first_id: names[0] ?? null,
        last_id: names.at(-1) ?? null,
      });
    }
    return c.json({
      object: "list",
      data: names.map((id) => ({ id, object: "model", created: 0, owned_by: "outlast" })),
    });
  });

  app.get("/v1/usage", async (c: Context) => {
    try {
      keys.authenticate(headerGetter(c), "openai", "read");
      const groupBy = parseGroups(c.req.query("group_by"));
      const from = parseInstant(c.req.query("from"), "from");
      const to = parseInstant(c.req.query("to"), "to");
      await gateway.flush();
      const data = await gateway.usage({ groupBy, from, to, project: principalOf(c).project });
      return c.json({
        object: "usage",
        group_by: groupBy,
        from: from?.toISOString() ?? null,
        to: to?.toISOString() ?? null,
        data,
      });
    } catch (err) {
      return fail(c, "openai", err);
    }
  });
}

function callRequest(c: Context): CallRequest {
  return {
    path: c.req.path,
    header: headerGetter(c),
    body: () => c.req.text(),
    signal: () => c.req.raw.signal,
  };
}

function toResponse(reply: Reply): Response {
  return reply.headers === undefined
    ? new Response(reply.body, { status: reply.status })
    : new Response(reply.body, { status: reply.status, headers: reply.headers });
}

function parseGroups(v: string | undefined): UsageGroup[] {
  if (!v) return [];
  const groups = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const g of groups) {
    if (!(g in USAGE_GROUPS)) {
      throw new GatewayError(
        400,
        "OUTLAST_GATEWAY_INVALID_REQUEST",
        `group_by: unknown "${g}"; use any of ${Object.keys(USAGE_GROUPS).join(", ")}`,
        { param: "group_by" },
      );
    }
  }
  return [...new Set(groups)] as UsageGroup[];
}

function parseInstant(v: string | undefined, name: string): Date | undefined {
  if (v === undefined || v === "") return undefined;
  const d = /^\d+$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) {
    throw new GatewayError(
      400,
      "OUTLAST_GATEWAY_INVALID_REQUEST",
      `${name} must be an ISO 8601 instant or Unix seconds, got "${v}"`,
      { param: name },
    );
  }
  return d;
}
