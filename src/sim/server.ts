/**
 * The HTTP server: routing, body parsing, and the simulator's control endpoints.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { handleMessages } from "./anthropic/messages.js";
import { anthropicHeaders, sendAnthropicError } from "./anthropic/wire.js";
import { ModelCatalog, validateOptions } from "./catalog.js";
import type { SimContext } from "./engine.js";
import { BodyTooLargeError, readBody, sendJson } from "./http.js";
import { newId } from "./ids.js";
import { LimiterRegistry } from "./limits.js";
import { handleChat } from "./openai/chat.js";
import { handleEmbeddings } from "./openai/embeddings.js";
import {
  INVALID_JSON,
  invalidRequest,
  openaiHeaders,
  SERVER_ERROR,
  sendOpenAIError,
} from "./openai/wire.js";
import { seededRandom } from "./random.js";
import { warmUp } from "./reply.js";
import { StatsRecorder } from "./stats.js";
import type { Simulator, SimulatorOptions } from "./types.js";

type Api = "openai" | "anthropic";
type ModelHandler = (
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  startedAt: number,
) => void;

const MODEL_ROUTES: Record<string, { api: Api; handle: ModelHandler }> = {
  "POST /v1/chat/completions": { api: "openai", handle: handleChat },
  "POST /v1/embeddings": { api: "openai", handle: handleEmbeddings },
  "POST /v1/messages": { api: "anthropic", handle: handleMessages },
};

const DEFAULT_SEED = 1;

/**
 * Starts a simulated OpenAI + Anthropic provider.
 *
 * @example
 * const sim = await startSimulator({ models: [{ name: "gpt-4o", rpm: 5, tpm: 30_000 }] });
 * await fetch(`${sim.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({
 *   model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }) });
 * console.log(sim.stats().requests); // 1
 * await sim.close();
 */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  validateOptions(opts);
  warmUp();
  const seed = opts.seed ?? DEFAULT_SEED;
  const ctx: SimContext = {
    catalog: new ModelCatalog(opts),
    limiters: new LimiterRegistry(),
    stats: new StatsRecorder(),
    random: seededRandom(seed),
  };
  const reset = () => {
    ctx.stats.reset();
    ctx.limiters.refillAll(Date.now());
    ctx.random = seededRandom(seed);
  };

  const server = createServer((req, res) => route(ctx, reset, req, res));
  // Outlive clients' pooled keep-alive sockets, so a benchmark never races a server-side
  // close (undici keeps idle sockets 4 s; Node's server default is 5 s, too close).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost =
    host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: () => ctx.stats.snapshot(ctx.limiters.inFlight()),
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Held ("timeout") requests and idle keep-alive sockets would keep close() waiting.
        server.closeAllConnections();
      }),
  };
}

function route(
  ctx: SimContext,
  reset: () => void,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const startedAt = performance.now();
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const key = `${req.method} ${path}`;

  const modelRoute = MODEL_ROUTES[key];
  if (modelRoute) {
    readBody(req).then(
      (text) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          ctx.stats.count("requests");
          ctx.stats.count("badRequests");
          badJson(res, modelRoute.api, startedAt);
          return;
        }
        try {
          modelRoute.handle(ctx, req, res, body, startedAt);
        } catch (err) {
          // A simulator bug, not a simulated failure: say so loudly, answer in shape.
          console.error("simulator: handler failed", err);
          internalError(res, modelRoute.api, startedAt);
        }
      },
      (err: unknown) => {
        // Anything else is the client going away mid-body: nobody to answer.
        if (err instanceof BodyTooLargeError) tooLarge(res, modelRoute.api, startedAt);
      },
    );
    return;
  }

  switch (key) {
    case "GET /v1/models":
      sendJson(
        res,
        200,
        {},
        listModels(ctx.catalog, req.headers["anthropic-version"] !== undefined),
      );
      return;
    case "GET /stats":
      sendJson(res, 200, {}, ctx.stats.snapshot(ctx.limiters.inFlight()));
      return;
    case "POST /stats/reset":
      ctx.stats.reset();
      sendJson(res, 200, {}, { ok: true });
      return;
    case "POST /reset":
      reset();
      sendJson(res, 200, {}, { ok: true });
      return;
    case "GET /health":
      sendJson(res, 200, {}, { ok: true });
      return;
  }
  if (path.startsWith("/v1/messages")) {
    const headers = anthropicHeaders(newId("req_"));
    sendAnthropicError(res, 404, headers, "not_found_error", `Not found: ${req.method} ${path}`);
    return;
  }
  sendOpenAIError(
    res,
    404,
    openaiHeaders(newId("req_"), startedAt),
    invalidRequest(`Invalid URL (${req.method} ${path})`),
  );
}

/** OpenAI's list shape by default; Anthropic's when the caller sent `anthropic-version`. */
function listModels(catalog: ModelCatalog, anthropic: boolean): unknown {
  const names = catalog.names();
  if (anthropic) {
    const data = names.map((id) => ({
      type: "model",
      id,
      display_name: id,
      created_at: "2025-01-01T00:00:00Z",
    }));
    return { data, has_more: false, first_id: names[0] ?? null, last_id: names.at(-1) ?? null };
  }
  const data = names.map((id) => ({
    id,
    object: "model",
    created: 1735689600,
    owned_by: "outlast-sim",
  }));
  return { object: "list", data };
}

function badJson(res: ServerResponse, api: Api, startedAt: number): void {
  const id = newId("req_");
  if (api === "anthropic") {
    sendAnthropicError(
      res,
      400,
      anthropicHeaders(id),
      "invalid_request_error",
      "There was an issue with your request body: the body is not valid JSON.",
    );
  } else {
    sendOpenAIError(res, 400, openaiHeaders(id, startedAt), INVALID_JSON);
  }
}

function tooLarge(res: ServerResponse, api: Api, startedAt: number): void {
  const id = newId("req_");
  const message = "Request exceeds the maximum allowed number of bytes.";
  res.shouldKeepAlive = false; // the rest of the body is still arriving; drop the socket after
  if (api === "anthropic") {
    sendAnthropicError(res, 413, anthropicHeaders(id), "request_too_large", message);
  } else {
    sendOpenAIError(res, 413, openaiHeaders(id, startedAt), invalidRequest(message));
  }
}

function internalError(res: ServerResponse, api: Api, startedAt: number): void {
  const id = newId("req_");
  if (api === "anthropic") {
    sendAnthropicError(res, 500, anthropicHeaders(id), "api_error", "Internal server error");
  } else {
    sendOpenAIError(res, 500, openaiHeaders(id, startedAt), SERVER_ERROR);
  }
}
