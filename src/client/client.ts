/** A typed HTTP client for Outlast's API, used by the CLI and exported for applications. */

import { parseSse } from "../events/sse-parse.js";
import type { RunEvent } from "../events/types.js";
import type { WaitingFor } from "../types/index.js";

export type { RunEvent } from "../events/types.js";

const FINAL_EVENTS = new Set(["run.succeeded", "run.failed", "run.cancelled"]);
export interface RunResource {
  id: string;
  /** The project it belongs to: the submitting key's. */
  project: string;
  agent: string;
  queue: string;
  status: string;
  input: unknown;
  output: unknown;
  error: { name?: string; message: string; code?: string } | null;
  progress: unknown;
  /** Attempts begun (a first-try success shows 1); never above `max_attempts`. */
  attempts: number;
  max_attempts: number;
  /** Why a run that is not running waits (`kind`, `reason`, …); null when nothing holds it. */
  waiting_for: WaitingFor | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  [key: string]: unknown;
}

/** `GET /v1/workers`: live workers and the queues they serve. */
export interface WorkersOverview {
  workers: {
    id: string;
    hostname: string;
    pid: number;
    queues: string[];
    concurrency: number | null;
    slots: { in_use: number | null; free: number | null };
    started_at: string;
    last_heartbeat_at: string;
    lease_expires_at: string;
  }[];
  queues: { name: string; workers: number; free_slots: number }[];
}

export class OutlastApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "OutlastApiError";
  }
}

export interface ClientOptions {
  /** Default `OUTLAST_URL`, else http://127.0.0.1:7373. */
  url?: string | undefined;
  /** Default `OUTLAST_API_KEY`. */
  apiKey?: string | undefined;
}

/**
 * @example
 * ```ts
 * const outlast = new OutlastClient({ url: "http://127.0.0.1:7373" });
 * const run = await outlast.submit({ agent: "hello", input: { name: "Ada" } }, { waitSeconds: 10 });
 * console.log(run.status, run.output);
 * ```
 */
export class OutlastClient {
  readonly url: string;
  private readonly apiKey: string | undefined;

  constructor(opts: ClientOptions = {}) {
    this.url = (opts.url ?? process.env.OUTLAST_URL ?? "http://127.0.0.1:7373").replace(/\/$/, "");
    this.apiKey = opts.apiKey ?? process.env.OUTLAST_API_KEY;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new OutlastApiError(
        0,
        "OUTLAST_UNREACHABLE",
        `cannot reach Outlast at ${this.url}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new OutlastApiError(
        res.status,
        "OUTLAST_BAD_RESPONSE",
        `unexpected response from ${this.url}: ${text.slice(0, 200)}`,
      );
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new OutlastApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? text);
    }
    return json as T;
  }

  /**
   * The thread API (`/v1/threads…`): `path` is below /v1/threads (`""`, `"/t1"`,
   * `"/t1/messages?limit=20"`); the answer is the API's JSON (undefined for a 204).
   * @example
   * ```ts
   * const t = await outlast.threads("POST", "", { id: "support-42", metadata: { user: "ada" } });
   * const page = await outlast.threads("GET", "/support-42/messages");
   * ```
   */
  threads<T = Record<string, unknown>>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<T> {
    return this.request<T>(method, `/v1/threads${path}`, body);
  }

  submit(
    req: {
      agent: string;
      input?: unknown;
      queue?: string;
      priority?: number;
      thread_id?: string;
      /** With thread_id, when the thread is busy: enqueue (default), reject, interrupt, rollback. */
      multitask_strategy?: "enqueue" | "reject" | "interrupt" | "rollback";
      idempotency_key?: string;
      tags?: Record<string, string>;
      /** Push the run's events (default: its end) to this URL, signed per Standard Webhooks. */
      webhook?: { url: string; events?: string[]; secret?: string };
    },
    opts: { waitSeconds?: number } = {},
  ): Promise<RunResource> {
    const q = opts.waitSeconds ? `?wait=${opts.waitSeconds}` : "";
    return this.request("POST", `/v1/runs${q}`, req);
  }

  get(id: string): Promise<RunResource> {
    return this.request("GET", `/v1/runs/${encodeURIComponent(id)}`);
  }

  steps(id: string): Promise<{ steps: Record<string, unknown>[] }> {
    return this.request("GET", `/v1/runs/${encodeURIComponent(id)}/steps`);
  }

  list(
    f: {
      status?: string;
      agent?: string;
      thread_id?: string;
      cursor?: string;
      limit?: number;
    } = {},
  ): Promise<{ runs: RunResource[]; next_cursor: string | null }> {
    const q = new URLSearchParams(
      Object.entries(f).flatMap(([k, v]) =>
        v === undefined ? [] : [[k, String(v)] as [string, string]],
      ),
    );
    const qs = q.toString();
    return this.request("GET", `/v1/runs${qs ? `?${qs}` : ""}`);
  }

  cancel(id: string): Promise<RunResource> {
    return this.request("POST", `/v1/runs/${encodeURIComponent(id)}/cancel`);
  }

  /** Delivers a payload to the run's `ctx.waitForSignal(name)`. */
  signal(id: string, name: string, payload?: unknown): Promise<RunResource> {
    return this.request(
      "POST",
      `/v1/runs/${encodeURIComponent(id)}/signals/${encodeURIComponent(name)}`,
      {
        payload: payload ?? null,
      },
    );
  }

  /**
   * A run's events as they happen (server-sent events), until its final event (the last
   * one, for a failed run that was resumed: the stream goes on to its new end). A dropped
   * connection is resumed with Last-Event-ID from the last event seen, so each event comes
   * exactly once and in order.
   *
   * @example
   * ```ts
   * for await (const ev of outlast.events(run.id)) console.log(ev.seq, ev.type, ev.data);
   * ```
   */
  async *events(
    id: string,
    opts: { after?: number; signal?: AbortSignal; maxReconnects?: number } = {},
  ): AsyncGenerator<RunEvent> {
    let after = opts.after ?? 0;
    let failures = 0;
    const maxReconnects = opts.maxReconnects ?? 20;
    while (!opts.signal?.aborted) {
      let res: Response;
      try {
        res = await fetch(`${this.url}/v1/runs/${encodeURIComponent(id)}/events`, {
          headers: {
            accept: "text/event-stream",
            ...(after > 0 ? { "last-event-id": String(after) } : {}),
            ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
          },
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (err) {
        if (opts.signal?.aborted) return;
        if (++failures > maxReconnects) {
          throw new OutlastApiError(
            0,
            "OUTLAST_UNREACHABLE",
            `cannot reach Outlast at ${this.url}: ${(err as Error).cause ?? (err as Error).message}`,
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** failures)));
        continue;
      }
      if (res.status === 204) return;
      if (!res.ok || !res.body) {
        const text = await res.text();
        let e: { code?: string; message?: string } | undefined;
        try {
          e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
        } catch {
          // not Outlast's JSON
        }
        throw new OutlastApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? text);
      }
      // A final event ends the watch only when the server ends the stream after it: a
      // failed run that was resumed has later events (queued, running, …, its new end).
      let final = false;
      try {
        for await (const msg of parseSse(res.body)) {
          const ev = JSON.parse(msg.data) as RunEvent;
          if (ev.seq <= after) continue;
          after = ev.seq;
          failures = 0;
          yield ev;
          final = FINAL_EVENTS.has(ev.type);
        }
        if (final) return;
      } catch (err) {
        if (opts.signal?.aborted) return;
        if (++failures > maxReconnects) throw err;
      }
      // The stream ended before the run did (a restart, a proxy): resume after a pause.
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Live workers, their queues and slots; per queue, how many workers serve it. */
  workers(): Promise<WorkersOverview> {
    return this.request("GET", "/v1/workers");
  }

  /** Requeues a failed run; completed steps are not repeated. */
  resume(id: string): Promise<RunResource> {
    return this.request("POST", `/v1/runs/${encodeURIComponent(id)}/resume`);
  }
}
