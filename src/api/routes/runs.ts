import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { RunService } from "../../engine/run-service.js";
import { RequestError } from "../../errors.js";
import { type PrivateAddressPolicy, refusalReason } from "../../outbound/ssrf.js";
import { attachRunWebhook } from "../../webhooks/run-webhooks.js";
import { jsonBody } from "../middleware/json-body.js";
import { principalOf } from "../principal.js";
import { toRunResource, toStepResource } from "../resources.js";
import {
  errors,
  json,
  ListRunsQuery,
  NoQuery,
  RunIdParam,
  RunListSchema,
  RunSchema,
  SignalBody,
  SignalParam,
  StepListSchema,
  SubmitRunBody,
  SubmitRunQuery,
} from "../schemas.js";

const submitRun = createRoute({
  method: "post",
  path: "/v1/runs",
  tags: ["runs"],
  summary: "Submit a run",
  description:
    "Queues a run of an agent. With `?wait=N` the request waits up to N seconds: 200 with the finished run, else 202 with its current state. A repeated idempotency key returns the first run with `Idempotent-Replayed: true`.",
  middleware: [jsonBody()] as const,
  request: {
    query: SubmitRunQuery,
    body: { content: { "application/json": { schema: SubmitRunBody } }, required: true },
  },
  responses: {
    200: json(RunSchema, "The run finished within `wait` seconds."),
    202: json(RunSchema, "The run is queued (or still going after `wait`)."),
    ...errors(400, 401, 404, 409, 413, 415, 503),
  },
});

const getRun = createRoute({
  method: "get",
  path: "/v1/runs/{id}",
  tags: ["runs"],
  summary: "Get a run",
  request: { params: RunIdParam, query: NoQuery },
  responses: {
    200: json(RunSchema, "The run."),
    ...errors(400, 401, 404, 503),
  },
});

const listSteps = createRoute({
  method: "get",
  path: "/v1/runs/{id}/steps",
  tags: ["runs"],
  summary: "List a run's journaled steps",
  request: { params: RunIdParam, query: NoQuery },
  responses: {
    200: json(StepListSchema, "The step journal, in sequence order."),
    ...errors(400, 401, 404, 503),
  },
});

const listRuns = createRoute({
  method: "get",
  path: "/v1/runs",
  tags: ["runs"],
  summary: "List runs, newest first",
  request: { query: ListRunsQuery },
  responses: {
    200: json(RunListSchema, "A page of runs; pass next_cursor as cursor for the next."),
    ...errors(400, 401, 503),
  },
});

const cancelRun = createRoute({
  method: "post",
  path: "/v1/runs/{id}/cancel",
  tags: ["runs"],
  summary: "Cancel a run",
  description:
    "A queued or waiting run is cancelled at once; a running run gets `cancel_requested` and ends `cancelled` at its next step boundary.",
  request: { params: RunIdParam, query: NoQuery },
  responses: {
    200: json(RunSchema, "The run after the cancel request."),
    ...errors(400, 401, 404, 409, 503),
  },
});

const signalRun = createRoute({
  method: "post",
  path: "/v1/runs/{id}/signals/{name}",
  tags: ["runs"],
  summary: "Send a signal to a run",
  description:
    "Delivers `payload` to `ctx.waitForSignal(name)`. A signal sent before the run reaches its wait is kept until it does. A finished run takes no signals (409).",
  middleware: [jsonBody()] as const,
  request: {
    params: SignalParam,
    query: NoQuery,
    body: { content: { "application/json": { schema: SignalBody } }, required: true },
  },
  responses: {
    202: json(RunSchema, "The signal is stored; the run as it is now."),
    ...errors(400, 401, 404, 409, 413, 415, 503),
  },
});

const resumeRun = createRoute({
  method: "post",
  path: "/v1/runs/{id}/resume",
  tags: ["runs"],
  summary: "Resume a failed run",
  description:
    "Requeues a failed run with its journal intact: completed steps are not repeated and the failed step runs again — for after a fix is deployed.",
  request: { params: RunIdParam, query: NoQuery },
  responses: {
    202: json(RunSchema, "The run, queued again."),
    ...errors(400, 401, 404, 409, 503),
  },
});

/**
 * `/v1/runs…`: every call goes through RunService, which owns the rules.
 * @param webhooks the config's SSRF policy for a run's own `webhook`, the same as for
 *   subscriptions (POST /v1/webhooks)
 */
export function registerRunRoutes(
  app: OpenAPIHono,
  service: RunService,
  webhooks: { allowPrivateAddresses?: PrivateAddressPolicy | undefined } = {},
): void {
  app.openapi(submitRun, async (c) => {
    const body = c.req.valid("json");
    const { wait } = c.req.valid("query");
    const { webhook, ...request } = body;
    // Refused before the run exists: a URL that could never be delivered to would
    // otherwise fail silently at delivery, after the 202.
    const refused =
      webhook && (await refusalReason(webhook.url, webhooks.allowPrivateAddresses ?? false));
    if (refused) throw new RequestError("OUTLAST_WEBHOOK_URL_REFUSED", `webhook.url: ${refused}`);
    const submitted = await service.submit({ ...request, project: principalOf(c).project });
    // After the insert, idempotent per (run, url): a submit retried with its idempotency
    // key also covers a crash between the two (see src/webhooks/run-webhooks.ts).
    if (webhook) await attachRunWebhook(service.db, submitted.run.id, webhook);
    const headers: Record<string, string> = { Location: `/v1/runs/${submitted.run.id}` };
    if (!submitted.created) headers["Idempotent-Replayed"] = "true";
    if (wait === undefined) return c.json(toRunResource(submitted.run), 202, headers);
    const { run, finished } = await service.waitFor(submitted.run.id, Math.round(wait * 1000));
    return c.json(toRunResource(run), finished ? 200 : 202, headers);
  });

  app.openapi(getRun, async (c) => {
    const run = await service.get(c.req.valid("param").id);
    return c.json(toRunResource(run), 200);
  });

  app.openapi(listSteps, async (c) => {
    const steps = await service.steps(c.req.valid("param").id);
    return c.json({ steps: steps.map(toStepResource) }, 200);
  });

  app.openapi(listRuns, async (c) => {
    const page = await service.list(c.req.valid("query"));
    return c.json({ runs: page.runs.map(toRunResource), next_cursor: page.next_cursor }, 200);
  });

  app.openapi(cancelRun, async (c) => {
    const run = await service.cancel(c.req.valid("param").id);
    return c.json(toRunResource(run), 200);
  });

  app.openapi(signalRun, async (c) => {
    const { id, name } = c.req.valid("param");
    const run = await service.signal(id, name, c.req.valid("json").payload);
    return c.json(toRunResource(run), 202);
  });

  app.openapi(resumeRun, async (c) => {
    const run = await service.resume(c.req.valid("param").id);
    return c.json(toRunResource(run), 202);
  });
}
