/**
 * One model call over HTTP, whoever serves the socket: the Hono routes (`mount.ts`) and
 * the node:http fast path (`node.ts`) both describe the request as a `CallRequest`, get a
 * `Reply` back, and only write it out their own way. Every rule of the gateway's HTTP
 * surface (key, attribution headers, body checks, error shapes) lives here or in
 * `request.ts`, once.
 */
import type { CredentialStore } from "../../auth/credentials.js";
import { parseTraceparent } from "../../tracing/traceparent.js";
import type { WireFormat } from "../config.js";
import { errorBody, errorHeaders, GatewayError } from "../errors.js";
import type { Gateway } from "../gateway.js";
import type { GatewayAnswer } from "../pipeline.js";
import { responsesToChat } from "../responses/request.js";
import { chatToResponse } from "../responses/response.js";
import { chatStreamToResponses } from "../responses/stream.js";
import {
  attribution,
  type CallerBase,
  cacheTtl,
  checkCountTokens,
  checkEmbeddings,
  type GatewayKeys,
  type HeaderGet,
  KeyBook,
  parseBody,
  parseObject,
  readText,
  StoreKeys,
  waitMs,
} from "./request.js";

type Obj = Record<string, unknown>;

/** What to answer: a JSON text, an SSE stream, or no body (499 for a caller who left). */
export interface Reply {
  status: number;
  headers: Record<string, string> | undefined;
  body: string | ReadableStream<Uint8Array> | null;
}

/** The parts of a request the gateway reads. */
export interface CallRequest {
  /** The path, for the log. */
  path: string;
  header: HeaderGet;
  /** The whole body as text (UTF-8, a BOM dropped); rejects when it cannot be read. */
  body(): Promise<string>;
  /** Aborted when the caller goes away (a getter: the Hono entry makes its signal lazily). */
  signal(): AbortSignal;
  /** Whom the call is for, when the door already read the key (the fast path). */
  caller?: CallerBase | undefined;
}

/**
 * The gateway's HTTP handlers over one `Gateway` and its keys: a deployment's
 * CredentialStore (the keys the API accepts, src/auth/), or without one the config's
 * gateway.keys alone.
 *
 * @example
 * const http = new GatewayHttp(gateway, credentials);
 * const reply = await http.model("openai", request);
 */
export class GatewayHttp {
  readonly keys: GatewayKeys;
  private readonly settings: Gateway["config"]["gateway"];

  constructor(
    readonly gateway: Gateway,
    readonly credentials?: CredentialStore | undefined,
  ) {
    this.keys = credentials ? new StoreKeys(credentials) : new KeyBook(gateway.config.gateway.keys);
    this.settings = gateway.config.gateway;
  }

  /** `POST /v1/chat/completions` (openai) and `POST /v1/messages` (anthropic). */
  async model(format: WireFormat, req: CallRequest): Promise<Reply> {
    try {
      const header = req.header;
      const base = req.caller ?? this.keys.authenticate(header, format);
      const rawBody = await readText(() => req.body());
      const body = parseBody(rawBody, format);
      const passHeaders: Record<string, string> = {};
      const version = header("anthropic-version");
      if (version) passHeaders["anthropic-version"] = version;
      const beta = header("anthropic-beta");
      if (beta) passHeaders["anthropic-beta"] = beta;
      const answer = await this.gateway.call({
        format,
        body,
        rawBody,
        attribution: attribution(header, base),
        waitMs: waitMs(header, this.settings.maxWaitMs),
        cacheTtlSeconds: cacheTtl(header, this.settings.cache.defaultTtlSeconds),
        signal: req.signal(),
        passHeaders,
        trace: this.gateway.tracing ? parseTraceparent(header("traceparent")) : undefined,
      });
      return toReply(answer);
    } catch (err) {
      return this.fail(format, req, err);
    }
  }

  /**
   * `POST /v1/responses`: OpenAI's Responses API over any target, translated to a chat
   * call and back (src/gateway/responses/).
   */
  async responses(req: CallRequest): Promise<Reply> {
    try {
      const { body, call } = await this.prepare("openai", req);
      const chat = responsesToChat(body);
      const answer = await this.gateway.call({ ...call, format: "openai", body: chat });
      if (answer.kind === "stream") {
        return toReply({ ...answer, stream: chatStreamToResponses(answer.stream, body) });
      }
      if (answer.status >= 400) return toReply(answer);
      const text = JSON.stringify(chatToResponse(JSON.parse(answer.text) as Obj, body));
      return toReply({ ...answer, text });
    } catch (err) {
      return this.fail("openai", req, err);
    }
  }

  /** `POST /v1/embeddings`: routed to OpenAI-format targets, with limits and accounting. */
  async embeddings(req: CallRequest): Promise<Reply> {
    try {
      const { body, call } = await this.prepare("openai", req);
      checkEmbeddings(body);
      const answer = await this.gateway.call({
        ...call,
        format: "openai",
        endpoint: "embeddings",
        body,
      });
      return toReply(answer);
    } catch (err) {
      return this.fail("openai", req, err);
    }
  }

  /**
   * `POST /v1/messages/count_tokens`: the input tokens of a messages body, counted as the
   * gateway counts them for its reservations (an estimate of the provider's own count).
   */
  async countTokens(req: CallRequest): Promise<Reply> {
    try {
      const { body, call } = await this.prepare("anthropic", req);
      checkCountTokens(body);
      const inputTokens = this.gateway.countTokens(body, call.attribution);
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input_tokens: inputTokens }),
      };
    } catch (err) {
      return this.fail("anthropic", req, err);
    }
  }

  /** What every call endpoint reads first: key, body, attribution, wait and cache headers. */
  private async prepare(format: WireFormat, req: CallRequest) {
    const header = req.header;
    const base = this.keys.authenticate(header, format);
    const body = parseObject(await readText(() => req.body()));
    const call = {
      attribution: attribution(header, base),
      waitMs: waitMs(header, this.settings.maxWaitMs),
      cacheTtlSeconds: cacheTtl(header, this.settings.cache.defaultTtlSeconds),
      signal: req.signal(),
      trace: this.gateway.tracing ? parseTraceparent(header("traceparent")) : undefined,
    };
    return { body, call };
  }

  /**
   * Any failure, in the caller's shape. A thrown error never reaches the app's own error
   * handler (whose shape the SDKs would not parse).
   */
  fail(format: WireFormat, req: Pick<CallRequest, "path" | "signal">, err: unknown): Reply {
    if (err instanceof GatewayError) {
      return {
        status: err.status,
        headers: { "content-type": "application/json", ...errorHeaders(err) },
        body: JSON.stringify(errorBody(format, err)),
      };
    }
    if (req.signal().aborted) return { status: 499, headers: undefined, body: null };
    this.gateway.log.error("gateway request failed", {
      path: req.path,
      error: String(err),
      stack: (err as Error)?.stack,
    });
    const e = new GatewayError(
      502,
      "OUTLAST_GATEWAY_UPSTREAM_FAILED",
      `internal gateway error: ${(err as Error)?.message ?? String(err)}`,
    );
    return {
      status: 500,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(errorBody(format, e)),
    };
  }
}

/** A gateway answer as the HTTP reply: JSON as it is, a stream as server-sent events. */
function toReply(answer: GatewayAnswer): Reply {
  if (answer.kind === "stream") {
    return {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        ...answer.headers,
      },
      body: answer.stream,
    };
  }
  return {
    status: answer.status,
    headers: { "content-type": "application/json", ...answer.headers },
    body: answer.text,
  };
}
