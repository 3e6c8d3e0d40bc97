/**
 * What an upstream answer becomes: a JSON answer (`complete`) or a relayed stream
 * (`relay`) in the caller's format, or a cache hit (`cached`), and the bookkeeping behind
 * it — reconciling the reservation, the accounting row, the cache entry. `pipeline.ts` and
 * `attempt.ts` decide which target answers; this file turns its reply into the caller's
 * answer.
 */
import type { CachedAnswer } from "./cache.js";
import type { CallState } from "./call-state.js";
import type { GatewayAnswer } from "./call-types.js";
import type { Target } from "./config.js";
import { GatewayError } from "./errors.js";
import { streamTranslator } from "./formats/translate-stream.js";
import { amountsFor, type Vec } from "./limiter/dimensions.js";
import type { Permit } from "./limiter/key-limiter.js";
import { relayStream } from "./providers/relay.js";
import type { UpstreamReply } from "./providers/transport.js";
import { anthropicUsage, openaiUsage, type Usage } from "./providers/usage.js";
import { anthropicToOpenaiResponse, openaiToAnthropicResponse } from "./translate.js";

type Obj = Record<string, unknown>;

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
  ctx: CallState,
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
  ctx.answered(target, json);
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
    ctx.record("ok", reply.status, target, usage, undefined, answeredAt);
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
    headers: ctx.answerHeaders(target, reply),
    target,
    usage,
  };
}

export function relay(
  ctx: CallState,
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
      ctx.record(
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
  return { kind: "stream", status: 200, stream, headers: ctx.answerHeaders(target, reply) };
}

/** The answer of a cache hit: no quota taken, recorded as `cache_hit`. */
export function cached(ctx: CallState, hit: CachedAnswer): GatewayAnswer {
  ctx.record("cache_hit", 200, undefined, hit.usage);
  const headers = {
    "x-outlast-cache": "hit",
    "x-outlast-target": `${hit.provider}/${hit.model}`,
  };
  if (ctx.stream) {
    const bytes = new TextEncoder().encode(hit.body);
    return {
      kind: "stream",
      status: 200,
      headers,
      stream: new ReadableStream({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      }),
    };
  }
  return {
    kind: "json",
    status: 200,
    text: hit.body,
    headers,
    target: undefined,
    usage: hit.usage,
  };
}
