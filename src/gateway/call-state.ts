/**
 * The one piece of a gateway call that changes while it runs: how many attempts went
 * upstream and when the latest did, and the call's hold on `gateway.caps`. Only this
 * class writes them; the pipeline (`pipeline.ts`, `attempt.ts`) says when an attempt is
 * sent, and the answer (`answers.ts`) and the accounting row read them — an accounting
 * row written behind the answer reads them then, as the caller's headers did.
 */
import type { Span } from "../tracing/types.js";
import type { CallOutcome } from "./accounting/recorder.js";
import { endCallSpan, responseAttributes, startCallSpan } from "./call-span.js";
import type { GatewayCall, Resources } from "./call-types.js";
import type { Route, Target } from "./config.js";
import type { GatewayError } from "./errors.js";
import type { CapHold } from "./limiter/caps.js";
import type { UpstreamReply } from "./providers/transport.js";
import type { Usage } from "./providers/usage.js";

export class CallState {
  readonly stream: boolean;
  private sent = 0;
  private lastSentAt: number | undefined = undefined;
  private hold: CapHold | undefined = undefined;
  /** The call's span, when the gateway traces; ended by the call's accounting row. */
  private readonly span: Span | undefined;
  private spanEnded = false;
  private modelAnswered = false;

  constructor(
    readonly r: Resources,
    readonly call: GatewayCall,
    readonly route: Route,
    /** performance.now() when the call arrived. */
    readonly started: number,
    /** The cache entry this call reads and fills, when it is cached. */
    readonly cacheKey: string | undefined,
    readonly ttl: number | undefined,
  ) {
    this.stream = call.body.stream === true;
    this.span = r.tracing ? startCallSpan(r.tracing, call) : undefined;
  }

  /** The `traceparent` the provider is sent: the call's span. */
  get spanIds(): Span["ids"] | undefined {
    return this.span?.ids;
  }

  /** The provider's JSON answer, for the span's `gen_ai.response.*`. */
  answered(target: Target, json: Record<string, unknown>): void {
    if (this.span) this.modelAnswered = responseAttributes(this.span, target, json);
  }

  /** The call ended in `err` without an accounting row (aborted, the store away). */
  thrown(err: unknown): void {
    if (!this.span || this.spanEnded) return;
    this.spanEnded = true;
    this.span.fail(err);
    this.span.end();
  }

  /** Attempts sent upstream so far. */
  get attempts(): number {
    return this.sent;
  }

  /** performance.now() when the latest attempt went upstream (after its wait for quota). */
  get sentAt(): number | undefined {
    return this.lastSentAt;
  }

  /** The call's share of gateway.caps, when any apply to it. */
  get caps(): CapHold | undefined {
    return this.hold;
  }

  /** The call holds its caps from here until `end()` (once, before any attempt). */
  holdCaps(hold: CapHold | undefined): void {
    this.hold = hold;
  }

  /** An attempt goes upstream now; returns the moment (performance.now()). */
  sending(): number {
    this.sent++;
    this.lastSentAt = performance.now();
    return this.lastSentAt;
  }

  /** Releases the caps held, once every attempt's permit is released (CapHold.end). */
  end(): void {
    this.hold?.end();
  }

  /** The call's accounting row (written behind the answer, see accounting/recorder.ts). */
  record(
    outcome: CallOutcome,
    status: number,
    target: Target | undefined,
    usage: Usage | undefined,
    errorCode?: string,
    now = performance.now(),
  ): void {
    const { r, call } = this;
    r.recorder.record({
      attribution: call.attribution,
      requested: call.body.model as string,
      stream: this.stream,
      at: new Date(),
      provider: target?.provider.name,
      model: target?.model,
      outcome,
      status,
      inputTokens: usage?.input ?? 0,
      outputTokens: usage?.output ?? 0,
      cachedTokens: usage?.cached ?? 0,
      costUsd: usage && outcome === "ok" && target ? r.prices.cost(target.model, usage) : 0,
      latencyMs: now - this.started,
      upstreamMs: this.lastSentAt === undefined ? undefined : now - this.lastSentAt,
      attempts: this.sent,
      errorCode,
    });
    if (this.span && !this.spanEnded) {
      this.spanEnded = true;
      const attempts = this.sent;
      endCallSpan(
        this.span,
        outcome,
        status,
        target,
        usage,
        attempts,
        errorCode,
        this.modelAnswered,
      );
    }
  }

  /** The accounting row of a call that ends in `err`, which is returned. */
  fail(err: GatewayError): GatewayError {
    this.record(
      err.status === 429 ? "rate_limited" : "upstream_error",
      err.status,
      undefined,
      undefined,
      err.code,
    );
    return err;
  }

  /** The headers of an answer `target` gave. */
  answerHeaders(target: Target, reply: UpstreamReply): Record<string, string> {
    const h: Record<string, string> = {
      "x-outlast-target": target.id,
      "x-outlast-attempts": String(this.sent),
    };
    if (this.cacheKey) h["x-outlast-cache"] = "miss";
    const id = reply.headers.get("x-request-id") ?? reply.headers.get("request-id");
    if (id) h[this.call.format === "anthropic" ? "request-id" : "x-request-id"] = id;
    return h;
  }
}
