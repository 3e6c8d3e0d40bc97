import { LeaseLostError, TerminalError } from "../errors.js";
import { countText, messageText } from "../llm/tokens.js";
import type { ChatMessage, ChatResult } from "../llm/types.js";
import { withDbRetry } from "../store/retry.js";
import type { ThreadRepo } from "../store/threads.js";
import type { ClaimedRun } from "../types/index.js";

/** What `ctx.thread` reads and writes through; built by the executor for a run with a thread. */
export interface ThreadAccess {
  readonly threadId: string;
  /** The thread's current version and message count (the run holds the thread: nobody else writes). */
  head(): Promise<{ version: number; message_count: number; state: Record<string, unknown> }>;
  /** Messages 1..`upto` (positions are immutable once written), the last `last` of them. */
  load(upto: number, last?: number): Promise<Record<string, unknown>[]>;
  /** One journaled write, idempotent per (run, seq). */
  write(
    seq: number,
    messages: unknown[],
    patch: Record<string, unknown> | undefined,
  ): Promise<{ version: number; message_count: number }>;
}

/** The ops of the run context a thread call journals through. */
export interface ThreadOps {
  op(kind: string, name: string, body: (seq: number) => Promise<unknown>): Promise<unknown>;
  record(seq: number, kind: string, name: string, startedAt: Date, value: unknown): Promise<void>;
}

export interface MessagesOptions {
  /** Only the last `last` messages. */
  last?: number;
  /** Only as many of the latest messages as fit in this many tokens (estimated). */
  maxTokens?: number;
}

/**
 * `ctx.thread`: the run's thread, when it was submitted with a `thread_id`. Reads are
 * journaled as the version they saw (a few bytes, never the transcript), and load that
 * version's messages, which never change: a replay sees what the first execution saw.
 * Writes are journaled, and each makes one thread version.
 */
export interface ThreadHandle {
  readonly id: string;
  /**
   * The transcript (OpenAI-shaped messages), oldest first.
   * @example
   * ```ts
   * const history = await ctx.thread.messages({ last: 20 });
   * ```
   */
  messages(opts?: MessagesOptions): Promise<Record<string, unknown>[]>;
  /**
   * Appends messages in one version; returns it.
   * @example
   * ```ts
   * await ctx.thread.append({ role: "user", content: input.text });
   * ```
   */
  append(...messages: Record<string, unknown>[]): Promise<{ version: number }>;
  /** The thread's state document. */
  state<T extends Record<string, unknown> = Record<string, unknown>>(): Promise<T>;
  /**
   * Merges `patch` into the state document (a null value removes its key) in one version.
   * @example
   * ```ts
   * await ctx.thread.setState({ step: "checkout" });
   * ```
   */
  setState(patch: Record<string, unknown>): Promise<{ version: number }>;
}

/** Builds ThreadAccess over the store for one claim of a run. */
export function threadAccess(repo: ThreadRepo, run: ClaimedRun): ThreadAccess | undefined {
  const threadId = run.threadId;
  if (!threadId) return undefined;
  const project = run.project;
  return {
    threadId,
    async head() {
      const s = await withDbRetry(() => repo.stateAt(project, threadId, undefined));
      if (!s) throw new TerminalError(`thread "${threadId}" does not exist any more`);
      return s;
    },
    async load(upto, last) {
      const after = last === undefined ? 0 : Math.max(0, upto - last);
      const rows = await withDbRetry(() => repo.messages(project, threadId, after, upto, upto));
      return rows.map((r) => r.message);
    },
    async write(seq, messages, patch) {
      const r = await withDbRetry(() =>
        repo.write({
          project,
          threadId,
          runId: run.id,
          leaseToken: run.leaseToken,
          seq,
          messages,
          statePatch: patch,
        }),
      );
      if (!r) throw new LeaseLostError();
      return r;
    },
  };
}

/** `ctx.thread` over a run context's ops. */
export class ThreadHandleImpl implements ThreadHandle {
  constructor(
    private readonly access: ThreadAccess | undefined,
    private readonly ops: ThreadOps,
  ) {}

  get id(): string {
    return this.need().threadId;
  }

  async messages(opts: MessagesOptions = {}): Promise<Record<string, unknown>[]> {
    const access = this.need();
    const head = (await this.ops.op("thread", "thread.messages", async (seq) => {
      const at = new Date();
      const h = await access.head();
      const seen = { version: h.version, message_count: h.message_count };
      await this.ops.record(seq, "thread", "thread.messages", at, seen);
      return seen;
    })) as { message_count: number };
    const msgs = await access.load(head.message_count, opts.last);
    return opts.maxTokens === undefined ? msgs : fitTokens(msgs, opts.maxTokens);
  }

  async append(...messages: Record<string, unknown>[]): Promise<{ version: number }> {
    return this.write("thread.append", messages, undefined);
  }

  async state<T extends Record<string, unknown>>(): Promise<T> {
    const access = this.need();
    return (await this.ops.op("thread", "thread.state", async (seq) => {
      const at = new Date();
      const h = await access.head();
      await this.ops.record(seq, "thread", "thread.state", at, h.state);
      return h.state;
    })) as T;
  }

  setState(patch: Record<string, unknown>): Promise<{ version: number }> {
    return this.write("thread.setState", [], patch);
  }

  private async write(
    name: string,
    messages: unknown[],
    patch: Record<string, unknown> | undefined,
  ): Promise<{ version: number }> {
    const access = this.need();
    return (await this.ops.op("thread", name, async (seq) => {
      const at = new Date();
      const r = await access.write(seq, messages, patch);
      const out = { version: r.version };
      await this.ops.record(seq, "thread", name, at, out);
      return out;
    })) as { version: number };
  }

  private need(): ThreadAccess {
    if (this.access) return this.access;
    throw new TerminalError(
      "ctx.thread: this run has no thread; submit it with a thread_id (POST /v1/runs {thread_id})",
      { code: "OUTLAST_NO_THREAD" },
    );
  }
}

/**
 * `ctx.llm({thread: true})`'s body: the prompt is the whole transcript followed by
 * `messages`; those messages and the reply are appended in one write, keyed by the llm
 * step's own sequence number (so a replay of an unjournaled step does not append twice).
 */
export async function threadChat(
  access: ThreadAccess | undefined,
  seq: number,
  messages: ChatMessage[],
  chat: (all: ChatMessage[]) => Promise<ChatResult>,
): Promise<ChatResult & { thread_version: number }> {
  if (!access) {
    throw new TerminalError("ctx.llm({thread: true}): this run has no thread", {
      code: "OUTLAST_NO_THREAD",
    });
  }
  const head = await access.head();
  const transcript = (await access.load(head.message_count)) as unknown as ChatMessage[];
  const result = await chat([...transcript, ...messages]);
  const reply: Record<string, unknown> = { role: "assistant", content: result.content };
  if (result.toolCalls.length > 0) {
    reply.tool_calls = result.toolCalls.map((t) => ({
      id: t.id,
      type: "function",
      function: {
        name: t.name,
        arguments: typeof t.arguments === "string" ? t.arguments : JSON.stringify(t.arguments),
      },
    }));
  }
  const w = await access.write(seq, [...messages, reply], undefined);
  return { ...result, thread_version: w.version };
}

/** The latest messages that fit in `maxTokens` (at least the last one). */
function fitTokens(msgs: Record<string, unknown>[], maxTokens: number): Record<string, unknown>[] {
  let used = 0;
  let i = msgs.length;
  while (i > 0) {
    const n = countText(messageText(msgs[i - 1])) + 4;
    if (used + n > maxTokens && i < msgs.length) break;
    used += n;
    i--;
  }
  return msgs.slice(i);
}
