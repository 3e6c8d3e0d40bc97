/**
 * Opt-in exact-match response cache, in the store so every process shares it. The key is
 * a SHA-256 of the caller's wire format and its whole body with keys sorted (the model
 * as requested, `stream` included: a stream hit replays the SSE transcript the first
 * caller saw, a plain hit the JSON). A hit sends nothing upstream and takes no quota.
 */
import { createHash } from "node:crypto";
import type { Db } from "../store/db.js";
import { GATEWAY_CACHE_GET, GATEWAY_CACHE_PUT, GATEWAY_CACHE_SWEEP } from "../store/sql/gateway.js";
import type { Logger } from "../util/log.js";
import type { WireFormat } from "./config.js";
import type { Usage } from "./providers/usage.js";

export interface CachedAnswer {
  body: string;
  usage: Usage;
  provider: string;
  model: string;
}

/** Sweep expired entries at most this often (each sweep deletes up to 1,000 rows). */
const SWEEP_EVERY_MS = 60_000;

export class ResponseCache {
  private lastSweep = 0;
  private readonly writes = new Set<Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /**
   * `format`: the caller's wire format, or `embeddings` for an embeddings call. Entries are
   * the project's own: a hit in another project's entry would tell that someone there sent
   * this exact prompt, and answer it with their reply.
   */
  static key(format: WireFormat | "embeddings", body: unknown, project: string): string {
    return createHash("sha256")
      .update(project)
      .update("\0")
      .update(format)
      .update("\0")
      .update(canonicalJson(body))
      .digest("hex");
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const [row] = await this.db.query<{
      body: string;
      usage: Usage;
      provider: string;
      model: string;
    }>(GATEWAY_CACHE_GET, [key]);
    return row;
  }

  put(key: string, answer: CachedAnswer, ttlSeconds: number): void {
    const write = this.db
      .query(GATEWAY_CACHE_PUT, [
        key,
        answer.body,
        JSON.stringify(answer.usage),
        answer.provider,
        answer.model,
        ttlSeconds,
      ])
      .catch((err: unknown) => this.log.warn("gateway: cache write failed", { error: String(err) }))
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.db.query(GATEWAY_CACHE_SWEEP).catch(() => {});
    }
  }

  /** Resolves when every write so far has reached the store. */
  async drain(): Promise<void> {
    await Promise.all([...this.writes]);
  }
}

/** JSON with object keys sorted at every level, so equal bodies hash equally. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}
