/**
 * The gateway's routes in the API's OpenAPI document. The handlers are plain Hono routes
 * (and the node:http fast path), which read bodies in the callers' own wire formats, so
 * the document describes each body loosely — the fields the gateway reads — and links
 * the provider's reference for the rest.
 */
import { z } from "@hono/zod-openapi";

/** Anything with the registry of an OpenAPIHono app. */
export interface OpenApiRegistryLike {
  openAPIRegistry: {
    registerPath(route: Record<string, unknown>): void;
  };
}

const error = {
  description:
    "An error in the caller's wire format, with a stable `code` (docs/errors.md): 400 invalid or unsupported, 401 key, 404 unknown model, 429 no quota, 502/503 targets failed",
};

const chatBody = z
  .looseObject({
    model: z.string().describe("an alias (`fast`) or provider/model"),
    messages: z.array(z.looseObject({ role: z.string() })),
    stream: z.boolean().optional(),
    max_tokens: z.number().int().positive().optional(),
  })
  .describe("OpenAI's chat completions body (https://platform.openai.com/docs/api-reference/chat)");

const messagesBody = z
  .looseObject({
    model: z.string(),
    max_tokens: z.number().int().positive(),
    messages: z.array(z.looseObject({ role: z.enum(["user", "assistant"]) })),
    system: z.unknown().optional(),
    stream: z.boolean().optional(),
  })
  .describe("Anthropic's messages body (https://docs.claude.com/en/api/messages)");

const responsesBody = z
  .looseObject({
    model: z.string(),
    input: z.union([z.string(), z.array(z.looseObject({}))]),
    instructions: z.string().optional(),
    tools: z.array(z.looseObject({ type: z.literal("function") })).optional(),
    stream: z.boolean().optional(),
    max_output_tokens: z.number().int().positive().optional(),
  })
  .describe(
    "OpenAI's Responses API body, stateless: previous_response_id and conversation answer 400 OUTLAST_GATEWAY_NO_STORED_RESPONSES",
  );

const embeddingsBody = z
  .looseObject({
    model: z.string(),
    input: z.union([z.string(), z.array(z.string()), z.array(z.number().int())]),
    dimensions: z.number().int().positive().optional(),
    encoding_format: z.enum(["float", "base64"]).optional(),
  })
  .describe("OpenAI's embeddings body; served by OpenAI-format targets only");

const countBody = z.looseObject({
  model: z.string(),
  messages: z.array(z.looseObject({ role: z.string() })),
  system: z.unknown().optional(),
  tools: z.array(z.unknown()).optional(),
});

const json = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });

const ROUTES: Record<string, unknown>[] = [
  {
    method: "post",
    path: "/v1/chat/completions",
    summary: "OpenAI-compatible chat completion (plain or streamed), over any target",
    request: { body: json(chatBody) },
  },
  {
    method: "post",
    path: "/v1/messages",
    summary: "Anthropic-compatible message (plain or streamed), over any target",
    request: { body: json(messagesBody) },
  },
  {
    method: "post",
    path: "/v1/messages/count_tokens",
    summary: "Input tokens of a messages body, counted as the gateway reserves them",
    request: { body: json(countBody) },
    ok: "`{input_tokens}`",
  },
  {
    method: "post",
    path: "/v1/responses",
    summary: "OpenAI Responses API (plain or streamed; text and function tools), over any target",
    request: { body: json(responsesBody) },
  },
  {
    method: "get",
    path: "/v1/responses/{id}",
    summary: "Stored responses do not exist: always 400 OUTLAST_GATEWAY_NO_STORED_RESPONSES",
    request: { params: z.object({ id: z.string() }) },
  },
  {
    method: "delete",
    path: "/v1/responses/{id}",
    summary: "Stored responses do not exist: always 400 OUTLAST_GATEWAY_NO_STORED_RESPONSES",
    request: { params: z.object({ id: z.string() }) },
  },
  {
    method: "post",
    path: "/v1/embeddings",
    summary: "OpenAI-compatible embeddings, with limits, failover, accounting and cache",
    request: { body: json(embeddingsBody) },
  },
  {
    method: "get",
    path: "/v1/models",
    summary: "Aliases and configured models (Anthropic's shape with an anthropic-version header)",
  },
  {
    method: "get",
    path: "/v1/usage",
    summary: "Calls, tokens and cost from the gateway's accounting",
    request: {
      query: z.object({
        group_by: z
          .string()
          .optional()
          .describe("comma-separated: model, provider, feature, tenant, agent, …"),
        from: z.string().optional().describe("ISO 8601 instant or Unix seconds"),
        to: z.string().optional(),
      }),
    },
  },
];

/** Adds the gateway's routes to the app's OpenAPI document. */
export function documentGateway(app: OpenApiRegistryLike): void {
  for (const { ok, ...route } of ROUTES) {
    app.openAPIRegistry.registerPath({
      ...route,
      tags: ["AI gateway"],
      responses: {
        200: { description: typeof ok === "string" ? ok : "the answer in the caller's format" },
        400: error,
      },
    });
  }
}

/** The paths documented, in OpenAPI's `{param}` form. */
export const DOCUMENTED_GATEWAY_PATHS: readonly string[] = [
  ...new Set(ROUTES.map((r) => r.path as string)),
];
