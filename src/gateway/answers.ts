/**
 * What an upstream answer becomes: a JSON answer (`complete`) or a relayed stream
 * (`relay`) in the caller's format, and the bookkeeping behind it — reconciling the
 * reservation, the accounting row (`record`), the cache entry. `pipeline.ts` decides which
 * target answers; this file turns its reply into the caller's answer.
 */
import type { CallOutcome } from "./accounting/recorder.js";
import type { Route, Target } from "./config.js";
import { GatewayError } from "./errors.js";
import { streamTranslator } from "./formats/translate-stream.js";
import type { CapHold } from "./limiter/caps.js";
import { amountsFor, type Vec } from "./limiter/dimensions.js";
import type { Permit } from "./limiter/key-limiter.js";
import type { GatewayAnswer, GatewayCall, Resources } from "./pipeline.js";
import { relayStream } from "./providers/relay.js";
import type { UpstreamReply } from "./providers/transport.js";
import { anthropicUsage, openaiUsage, type Usage } from "./providers/usage.js";
import { anthropicToOpenaiResponse, openaiToAnthropicResponse } from "./translate.js";

type Obj = Record<string, unknown>;

export interface AttemptContext {
  r: Resources;
  call: GatewayCall;
  route: Route;
  stream: boolean;
  cacheKey: string | undefined;
  ttl: number | undefined;
  /** performance.now() when the call arrived. */
  started: number;
  attempts: number;
  /** performance.now() when the latest attempt went upstream (after its wait for quota). */
  sentAt: number | undefined;
  /** The call's share of gateway.caps, when any apply to it. */
  caps?: CapHold | undefined;
}

/** The call's accounting row (written behind the answer, see accounting/recorder.ts). */
export function record(
  ctx: Pick<AttemptContext, "r" | "call" | "started" | "attempts" | "sentAt">,
  outcome: CallOutcome,
  status: number,
  target: Target | undefined,
  usage: Usage | undefined,
  errorCode?: string,
  now = performance.now(),
): void {
  const { r, call } = ctx;
  r.recorder.record({
    attribution: call.attribution,
    requested: call.body.model as string,
    stream: call.body.stream === true,
    at: new Date(),
    provider: target?.provider.name,
    model: target?.model,
    outcome,
    status,
    inputTokens: usage?.input ?? 0,
    outputTokens: usage?.output ?? 0,
    cachedTokens: usage?.cached ?? 0,
    costUsd: usage && outcome === "ok" && target ? r.prices.cost(target.model, usage) : 0,
    latencyMs: now - ctx.started,
    upstreamMs: ctx.sentAt === undefined ? undefined : now - ctx.sentAt,
    attempts: ctx.attempts,
    errorCode,
  });
}

/**
 * Work an answer does not wait for — reconciling its reservation, reading the provider's
 * rate-limit headers, the accounting row, the cache entry — runs after the answer is
 * written (the next turn of the event loop), off the caller's critical path. In-process
 * timings at concurrency 1 (p50) put the reconciliation and the accounting row at ~13 µs
 * of the ~200 µs between the provider's answer and the caller's, plus the header parsing;
 * end to end that is below this machine's noise, but it is work the caller need not wait
 * for. The reservation stays charged for those microseconds, which errs on the safe side.
 */
export function behind(work: () => void): void {
  setImmediate(work);
}

function limiterUsage(target: Target, u: Usage): Vec {
  // Anthropic: cache reads do not count toward the input-token limits (PROVIDERS.md).
  const input = target.provider.type === "anthropic" ? u.input - u.cached : u.input;
  return amountsFor(input, u.output);
}

/** A JSON answer from `raw`, the whole body of a 2xx `reply`. */
export function complete(
  ctx: AttemptContext,
  target: Target,
  reply: UpstreamReply,
  raw: string,
  permit: Permit,
): GatewayAnswer {
  const { r, call } = ctx;
  let json: Obj;
  try {
    json = JSON.parse(raw) as Obj;
  } catch {
    permit.release(null);
    throw new GatewayError(
      502,
      "OUTLAST_GATEWAY_UPSTREAM_FAILED",
      `${target.id} answered ${reply.status} with a body that is not JSON`,
      { tried: [target.id] },
    );
  }
  const usage =
    target.provider.type === "anthropic" ? anthropicUsage(json.usage) : openaiUsage(json.usage);
  const answeredAt = performance.now();
  let text = raw;
  if (target.provider.type !== call.format) {
    const requested = call.body.model as string;
    text = JSON.stringify(
      call.format === "openai"
        ? anthropicToOpenaiResponse(json, requested)
        : openaiToAnthropicResponse(json, requested),
    );
  }
  const answer = text;
  behind(() => {
    permit.release(usage ? limiterUsage(target, usage) : null);
    if (usage) r.estimator.observe(target.id, usage.output);
    record(ctx, "ok", reply.status, target, usage, undefined, answeredAt);
    if (ctx.cacheKey && ctx.ttl && usage) {
      r.cache.put(
        ctx.cacheKey,
        { body: answer, usage, provider: target.provider.name, model: target.model },
        ctx.ttl,
      );
    }
  });
  return {
    kind: "json",
    status: reply.status,
    text,
    headers: answerHeaders(ctx, target, reply),
    target,
    usage,
  };
}

export function relay(
  ctx: AttemptContext,
  target: Target,
  reply: UpstreamReply,
  permit: Permit,
  input: number,
): GatewayAnswer {
  const { r, call } = ctx;
  const so = call.body.stream_options as Obj | undefined;
  const upstream = target.provider.type;
  const includeUsage = so?.include_usage === true;
  const stream = relayStream(reply.body, {
    format: upstream,
    caller:
      upstream === call.format
        ? undefined
        : {
            format: call.format,
            translate: streamTranslator(upstream, call.format, {
              model: call.body.model as string,
              includeUsage,
            }),
          },
    stripUsage: upstream === "openai" && upstream === call.format && !includeUsage,
    keepTranscript: ctx.cacheKey !== undefined,
    onEnd: (end) => {
      // Without usage (a broken stream), keep the reservation charged but the input.
      permit.release(
        end.usage ? limiterUsage(target, end.usage) : end.complete ? null : amountsFor(input, 0),
      );
      if (end.usage) r.estimator.observe(target.id, end.usage.output);
      record(
        ctx,
        end.complete ? "ok" : "upstream_error",
        200,
        target,
        end.usage,
        end.complete
          ? undefined
          : end.cancelled
            ? "client_cancelled"
            : "OUTLAST_GATEWAY_STREAM_INTERRUPTED",
      );
      if (end.complete && end.transcript && end.usage && ctx.cacheKey && ctx.ttl) {
        r.cache.put(
          ctx.cacheKey,
          {
            body: end.transcript,
            usage: end.usage,
            provider: target.provider.name,
            model: target.model,
          },
          ctx.ttl,
        );
      }
    },
  });
  return { kind: "stream", status: 200, stream, headers: answerHeaders(ctx, target, reply) };
}

function answerHeaders(
  ctx: AttemptContext,
  target: Target,
  reply: UpstreamReply,
): Record<string, string> {
  const h: Record<string, string> = {
    "x-outlast-target": target.id,
    "x-outlast-attempts": String(ctx.attempts),
  };
  if (ctx.cacheKey) h["x-outlast-cache"] = "miss";
  const id = reply.headers.get("x-request-id") ?? reply.headers.get("request-id");
  if (id) h[ctx.call.format === "anthropic" ? "request-id" : "x-request-id"] = id;
  return h;
}
