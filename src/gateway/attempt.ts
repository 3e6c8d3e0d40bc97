/**
 * One attempt at one target: reserve its quota, send, and sort the reply — a 2xx becomes
 * the caller's answer (answers.ts); a 429, a 5xx, a timeout or a network error, a Failure
 * the pipeline fails over on (pipeline.ts); another 4xx, the provider's answer as it is.
 */
import { behind, complete, relay } from "./answers.js";
import type { CallState } from "./call-state.js";
import type { Attempt, GatewayCall, Resources } from "./call-types.js";
import type { Target } from "./config.js";
import { GatewayError } from "./errors.js";
import { passThroughError, storeUnavailable } from "./failures.js";
import { cannotServe } from "./formats/support.js";
import { amountsFor, zero } from "./limiter/dimensions.js";
import { remainingFromHeaders } from "./limiter/headers.js";
import { type Permit, QuotaUnavailable } from "./limiter/key-limiter.js";
import { sendToTarget } from "./providers/endpoints.js";
import { type UpstreamReply, UpstreamTimeout } from "./providers/transport.js";
import { retryAfterMs } from "./retry-after.js";
import { countEmbeddingInput, countInput, outputBound } from "./tokens.js";
import { anthropicToOpenaiRequest, openaiToAnthropicRequest } from "./translate.js";

type Obj = Record<string, unknown>;

/**
 * @param waitUntil until when to wait for the target's quota (now, when another target
 *   can be tried instead)
 */
export async function attempt(ctx: CallState, target: Target, waitUntil: number): Promise<Attempt> {
  const { r, call, stream } = ctx;
  const breaker = r.breaker(target);
  if (!breaker.allow()) {
    return { failure: { kind: "circuit", target, retryInMs: breaker.retryInMs() } };
  }
  const upstreamFormat = target.provider.type;
  const unsupported = cannotServe(call, target);
  if (unsupported !== undefined) {
    breaker.neutral();
    return { failure: { kind: "unsupported", target, what: unsupported } };
  }
  const input = inputOf(call);
  const output = outputOf(r, call, target);
  const reserved = amountsFor(input, output);
  let permit: Permit;
  try {
    permit = await r.limiter
      .key(target.limitKey, target.limits)
      .acquire(reserved, waitUntil, call.signal);
    // What the provider bills this attempt is charged to the call's caps too.
    if (ctx.caps) permit = ctx.caps.wrap(permit);
  } catch (err) {
    breaker.neutral();
    if (err instanceof QuotaUnavailable) {
      if (err.tooLarge) {
        throw new GatewayError(
          429,
          "OUTLAST_GATEWAY_TOO_LARGE",
          `${err.message} (input ${input} tokens, output bound ${output})`,
        );
      }
      return { failure: { kind: "quota", target, error: err } };
    }
    if (call.signal.aborted) throw err;
    throw storeUnavailable(err);
  }

  const body = upstreamBody(call, target);
  const sentAt = ctx.sending();
  let reply: UpstreamReply;
  try {
    reply = await sendToTarget(
      target,
      body,
      stream,
      call.signal,
      call.passHeaders,
      call.endpoint,
      ctx.spanIds,
    );
  } catch (err) {
    if (call.signal.aborted) {
      permit.release(null);
      throw err;
    }
    breaker.failure();
    if (err instanceof UpstreamTimeout) {
      // The provider may have admitted and billed it: keep the reservation charged.
      permit.release(null);
      return { failure: { kind: "timeout", target } };
    }
    permit.release(zero());
    return { failure: { kind: "network", target } };
  }
  const headersAfterMs = performance.now() - sentAt;
  behind(() => {
    const remaining = remainingFromHeaders(reply.headers);
    if (remaining) r.limiter.store.observe(target.limitKey, remaining, headersAfterMs);
  });

  const status = reply.status;
  if (status >= 200 && status < 300) {
    if (stream) {
      breaker.success();
      return { answer: relay(ctx, target, reply, permit, input) };
    }
    let raw: string;
    try {
      raw = await reply.text();
    } catch (err) {
      // It answered, so it may have billed the call: keep the reservation charged.
      permit.release(null);
      if (call.signal.aborted) throw err;
      breaker.failure();
      return { failure: { kind: "network", target } };
    }
    breaker.success();
    return { answer: complete(ctx, target, reply, raw, permit) };
  }
  const text = await reply.text().catch(() => "");
  if (status === 429) {
    breaker.neutral();
    // Providers do not bill a request they refuse.
    permit.release(zero());
    const final =
      reply.headers.get("x-should-retry") === "false" ||
      /insufficient_quota|enforced_spend_limit/.test(text);
    if (!final) {
      const wait = retryAfterMs(reply.headers) ?? 1_000;
      await r.limiter.pause(target.limitKey, wait).catch(() => {});
      return { failure: { kind: "upstream", target, status, retryAfterMs: wait } };
    }
    if (target !== ctx.route.targets.at(-1))
      return { failure: { kind: "upstream", target, status, retryAfterMs: undefined } };
  } else if (status >= 500 || status === 408 || status === 409) {
    breaker.failure();
    // Billed like the simulator and the providers: the input was read, no output made.
    permit.release(amountsFor(input, 0));
    return {
      failure: { kind: "upstream", target, status, retryAfterMs: retryAfterMs(reply.headers) },
    };
  } else {
    breaker.neutral();
    permit.release(zero());
  }
  // The caller's own mistake (or a final refusal): answered as the provider said.
  ctx.record("rejected", status, target, undefined, `provider_${status}`);
  return { answer: passThroughError(call.format, upstreamFormat, status, text, target) };
}

/** Input tokens the call reserves. */
export function inputOf(call: GatewayCall): number {
  return call.endpoint === "embeddings"
    ? countEmbeddingInput(call.body.input)
    : countInput(call.format, call.body);
}

/** Output tokens the call reserves: its bound, else the target's estimate (0 for embeddings). */
export function outputOf(r: Resources, call: GatewayCall, target: Target): number {
  if (call.endpoint === "embeddings") return 0;
  return outputBound(call.body) ?? r.estimator.estimate(target.id);
}

/** The body sent to the target, serialised. */
function upstreamBody(call: GatewayCall, target: Target): string {
  const up = target.provider.type;
  if (up !== call.format) {
    const body =
      up === "anthropic"
        ? openaiToAnthropicRequest(call.body, target.model)
        : anthropicToOpenaiRequest(call.body, target.model);
    if (call.body.stream === true) {
      body.stream = true;
      // Usage comes only when asked; the translated stream needs it for the caller's.
      if (up === "openai") body.stream_options = { include_usage: true };
    }
    return JSON.stringify(body);
  }
  const addUsage =
    up === "openai" &&
    call.body.stream === true &&
    (call.body.stream_options as Obj | undefined)?.include_usage !== true;
  if (call.rawBody !== undefined && call.body.model === target.model && !addUsage) {
    return call.rawBody;
  }
  const body: Obj = { ...call.body, model: target.model };
  if (addUsage) body.stream_options = { ...(body.stream_options as Obj), include_usage: true };
  return JSON.stringify(body);
}
