/**
 * A model call's span, with OpenTelemetry's GenAI semantic conventions (`gen_ai.*`): one
 * span per gateway call, from its arrival to its accounting row (after a stream's last
 * event), whichever targets it tried. Built only when the gateway traces (src/tracing).
 */
import type { Span, Tracing } from "../tracing/types.js";
import type { Attribution } from "./accounting/recorder.js";
import type { GatewayCall } from "./call-types.js";
import type { Target } from "./config.js";
import type { Usage } from "./providers/usage.js";

type Obj = Record<string, unknown>;

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;

/** Starts the span of `call`, under the step (ctx.llm) or the caller's traceparent. */
export function startCallSpan(tracing: Tracing, call: GatewayCall): Span {
  const operation = call.endpoint === "embeddings" ? "embeddings" : "chat";
  const requested = String(call.body.model);
  const a: Attribution = call.attribution;
  const body = call.body;
  return tracing.start(`${operation} ${requested}`, call.trace, {
    kind: "client",
    attributes: {
      "gen_ai.operation.name": operation,
      "gen_ai.request.model": requested,
      "gen_ai.request.max_tokens": num(body.max_tokens) ?? num(body.max_completion_tokens),
      "gen_ai.request.temperature": num(body.temperature),
      "gen_ai.request.top_p": num(body.top_p),
      "outlast.gateway.stream": body.stream === true,
      "outlast.project": a.project,
      "outlast.run.id": a.runId,
      "outlast.agent": a.agent,
      "outlast.step.name": a.step,
      "outlast.feature": a.feature,
      "outlast.tenant": a.tenant,
    },
  });
}

/**
 * What the provider's JSON answer says of itself: id, model, finish reasons. Returns
 * whether it named its model.
 */
export function responseAttributes(span: Span, target: Target, json: Obj): boolean {
  const model = typeof json.model === "string" ? json.model : undefined;
  const id = typeof json.id === "string" ? json.id : undefined;
  let reasons: string[] | undefined;
  if (target.provider.type === "anthropic") {
    if (typeof json.stop_reason === "string") reasons = [json.stop_reason];
  } else if (Array.isArray(json.choices)) {
    reasons = json.choices
      .map((c) => (c as Obj | null)?.finish_reason)
      .filter((r): r is string => typeof r === "string");
  }
  span.set({
    "gen_ai.response.model": model,
    "gen_ai.response.id": id,
    "gen_ai.response.finish_reasons": reasons,
  });
  return model !== undefined;
}

/** Ends the span with what the call's accounting row says. */
export function endCallSpan(
  span: Span,
  outcome: string,
  status: number,
  target: Target | undefined,
  usage: Usage | undefined,
  attempts: number,
  errorCode: string | undefined,
  modelAnswered: boolean,
): void {
  span.set({
    // The provider as OpenTelemetry names it (its API's family), under both the older
    // and the newer attribute name; the configured provider's own name beside it.
    "gen_ai.system": target?.provider.type,
    "gen_ai.provider.name": target?.provider.type,
    "outlast.gateway.provider": target?.provider.name,
    "outlast.gateway.target": target?.id,
    "gen_ai.usage.input_tokens": usage?.input,
    "gen_ai.usage.output_tokens": usage?.output,
    "outlast.gateway.outcome": outcome,
    "outlast.gateway.attempts": attempts,
    "http.response.status_code": status,
  });
  // The model the provider's answer named, else the one it was sent to.
  if (!modelAnswered) span.set({ "gen_ai.response.model": target?.model });
  if (outcome !== "ok" && outcome !== "cache_hit") {
    span.fail(Object.assign(new Error(errorCode ?? `HTTP ${status}`), { code: errorCode }));
  }
  span.end();
}
