/**
 * `POST /v1/embeddings`: deterministic unit vectors seeded by a hash of each input, so
 * equal texts embed equally across runs and processes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { admit, type SimContext } from "../engine.js";
import { sendJson } from "../http.js";
import { newId } from "../ids.js";
import { fnv1a, seededRandom } from "../random.js";
import { countText } from "../tokens.js";
import { parseEmbeddings } from "./validate.js";
import { openaiHeaders, SERVER_ERROR, sendOpenAIError, sendOpenAIRateLimited } from "./wire.js";

export function handleEmbeddings(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
  startedAt: number,
): void {
  const requestId = newId("req_");
  const parsed = parseEmbeddings(body);
  if (!parsed.ok) {
    ctx.stats.count("requests");
    ctx.stats.count("badRequests");
    sendOpenAIError(res, 400, openaiHeaders(requestId, startedAt), parsed.error);
    return;
  }
  const p = parsed.value;
  const model = ctx.catalog.get(p.model);
  const name = model.config.name;
  ctx.stats.count("requests", name);
  let input = 0;
  for (const item of p.inputs) input += typeof item === "string" ? countText(item) : item.length;
  const outcome = admit(ctx, req, res, model, input, 0);

  if (outcome.kind === "rejected") {
    const headers = openaiHeaders(requestId, startedAt, outcome.limits);
    sendOpenAIRateLimited(res, headers, p.model, outcome.rejection);
    return;
  }
  if (outcome.kind === "timeout") return;
  const { exchange, limits, latencyMs } = outcome;
  if (outcome.kind === "error") {
    exchange.later(latencyMs, () =>
      sendOpenAIError(res, 500, openaiHeaders(requestId, startedAt, limits), SERVER_ERROR),
    );
    return;
  }
  exchange.later(latencyMs, () => {
    ctx.stats.ok(name, input, 0);
    const data = p.inputs.map((item, index) => {
      const vector = embed(typeof item === "string" ? item : JSON.stringify(item), p.dimensions);
      return {
        object: "embedding",
        index,
        // base64 is what the official SDK asks for by default: little-endian float32.
        embedding: p.base64 ? Buffer.from(vector.buffer).toString("base64") : Array.from(vector),
      };
    });
    sendJson(res, 200, openaiHeaders(requestId, startedAt, limits), {
      object: "list",
      data,
      model: p.model,
      usage: { prompt_tokens: input, total_tokens: input },
    });
  });
}

/**
 * A unit-length vector drawn from a PRNG seeded with the text's hash.
 *
 * @example embed("hello", 64).length // 64
 */
export function embed(text: string, dimensions: number): Float32Array {
  const next = seededRandom(fnv1a(text));
  const v = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const x = next() * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale;
  return v;
}
