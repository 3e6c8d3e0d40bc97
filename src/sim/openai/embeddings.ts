/**
 * `POST /v1/embeddings`: deterministic unit vectors that carry meaning a test can rely
 * on — hashed bag-of-words, so equal texts embed equally across runs and processes, and
 * texts that share words are near (cosine ≈ the share of their words in common).
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

/** Words: runs of letters or digits, lower-cased. */
const WORD = /[\p{L}\p{N}]+/gu;

/**
 * Hashed bag-of-words: each distinct word adds a pseudo-random vector seeded by its hash
 * (a random projection of the word counts), and the sum is scaled to unit length. Two
 * texts with no word in common are nearly orthogonal (cosine ~0 ± 1/√dimensions); each
 * shared word moves them closer. A text without words embeds as its whole string.
 *
 * @example embed("hello", 64).length // 64
 * @example cosine(embed("red apple", 64), embed("green apple", 64)) > 0.3 // true
 */
export function embed(text: string, dimensions: number): Float32Array {
  const words = text.toLowerCase().match(WORD) ?? [text];
  const v = new Float32Array(dimensions);
  for (const word of words) {
    const next = seededRandom(fnv1a(word));
    for (let i = 0; i < dimensions; i++) v[i] = v[i]! + (next() * 2 - 1);
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += v[i]! * v[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = v[i]! * scale;
  return v;
}
