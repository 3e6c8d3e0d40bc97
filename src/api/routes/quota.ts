import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { RunService } from "../../engine/run-service.js";
import { limitKind } from "../../engine/waiting-for.js";
import { RequestError } from "../../errors.js";
import type { QuotaService } from "../../quota/admission.js";
import { jsonBody } from "../middleware/json-body.js";
import { principalOf } from "../principal.js";
import { errors, json, NoQuery, RunTags } from "../schemas.js";

const Dims = z.record(z.string(), z.number());

const QuotaOverview = z
  .object({
    limits: z.array(
      z.object({
        target: z.string().openapi({
          example: "openai/gpt-4o-mini",
          description:
            'A provider target (`provider/model`) or a gateway.caps cap (`tenant "acme"`).',
        }),
        caps: Dims,
        remaining: Dims,
        concurrency: z.number().nullable(),
        in_flight: z.number(),
        paused_until: z.string().nullable(),
        runs_waiting: z
          .number()
          .openapi({ description: "Runs throttled on this target's limits." }),
      }),
    ),
    throttled: z.array(
      z.object({ limit: z.string(), runs: z.number(), next_eta: z.string().nullable() }),
    ),
  })
  .openapi("QuotaOverview");

const QuotaCheckBody = z
  .strictObject({
    agent: z.string().max(128),
    input: z.unknown().optional(),
    tags: RunTags.optional().openapi({
      description: "The run's tags: its `tenant` and `feature` caps (gateway.caps) count too.",
      example: { tenant: "acme" },
    }),
  })
  .openapi("QuotaCheck");

const QuotaCheckResult = z
  .object({
    can_start: z.boolean(),
    forecast: z.object({
      llm_calls: z.number(),
      tokens: z.number(),
      models: z.array(z.string()),
      tokens_per_minute: z.number().nullable(),
      source: z.enum(["declared", "learned", "prior"]),
      based_on_runs: z.number(),
    }),
    waiting_for: z
      .object({
        kind: z.enum(["provider_limit", "cap"]),
        limit: z.string(),
        eta: z.string().nullable(),
        reason: z.string(),
      })
      .nullable(),
  })
  .openapi("QuotaCheckResult");

const getQuota = createRoute({
  method: "get",
  path: "/v1/quota",
  tags: ["quota"],
  summary: "Headroom per limit, and the runs waiting on each",
  description:
    "Why is my run waiting? Each limited provider/model and each gateway.caps cap with what is left now, and the throttled runs by the limit that holds them.",
  request: { query: NoQuery },
  responses: { 200: json(QuotaOverview, "Quota now."), ...errors(400, 401, 503) },
});

const checkQuota = createRoute({
  method: "post",
  path: "/v1/quota/check",
  tags: ["quota"],
  summary: "Could a run of this agent start now?",
  description:
    "Forecasts the run (declared, learned from history, or the prior) and answers whether the quota it needs is there now and, if not, when.",
  middleware: [jsonBody()] as const,
  request: {
    query: NoQuery,
    body: { content: { "application/json": { schema: QuotaCheckBody } }, required: true },
  },
  responses: { 200: json(QuotaCheckResult, "The answer."), ...errors(400, 401, 404, 415, 503) },
});

export function registerQuotaRoutes(
  app: OpenAPIHono,
  service: RunService,
  quota: QuotaService,
): void {
  app.openapi(getQuota, async (c) => {
    const o = await quota.overview(principalOf(c).project);
    return c.json(
      {
        limits: o.limits.map((l) => ({
          target: l.target,
          caps: l.caps,
          remaining: l.remaining,
          concurrency: l.concurrency,
          in_flight: l.inFlight,
          paused_until: l.pausedUntil,
          runs_waiting: l.runsWaiting,
        })),
        throttled: o.throttled.map((t) => ({ limit: t.limit, runs: t.runs, next_eta: t.nextEta })),
      },
      200,
    );
  });

  app.openapi(checkQuota, async (c) => {
    const { agent: name, tags } = c.req.valid("json");
    const agent = service.agent(name);
    if (!agent) throw new RequestError("OUTLAST_UNKNOWN_AGENT", `no agent named "${name}"`);
    const a = await quota.check(agent, {
      project: principalOf(c).project,
      tenant: tags?.tenant,
      feature: tags?.feature,
    });
    const f = a.forecast;
    return c.json(
      {
        can_start: a.admit,
        forecast: {
          llm_calls: f.llmCalls,
          tokens: f.tokens,
          models: f.models,
          tokens_per_minute: f.tokensPerMinute ?? null,
          source: f.source,
          based_on_runs: f.basedOn,
        },
        waiting_for: a.admit
          ? null
          : {
              kind: limitKind(a.limit),
              limit: a.limit,
              eta: a.etaMs === undefined ? null : new Date(Date.now() + a.etaMs).toISOString(),
              reason: a.reason,
            },
      },
      200,
    );
  });
}
