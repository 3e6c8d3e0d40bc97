import type { ThreadMessage, ThreadRow, ThreadVersionRow } from "../types/index.js";
import type { Db } from "./db.js";
import * as T from "./sql/threads.js";

/** What submitting a run on a thread did (outlast.thread_submit, migration 016). */
export type ThreadSubmitOutcome = "ready" | "held" | "busy" | "existing";

/** A run to submit on a thread, as outlast.thread_submit takes it. */
export interface ThreadRunInsert {
  agent: string;
  queue: string;
  input: unknown;
  priority?: number | undefined;
  tags?: Record<string, string> | undefined;
  idempotencyKey?: string | undefined;
  maxAttempts: number;
  availableAt?: Date | undefined;
  parentRunId?: string | undefined;
  agentVersion?: string | undefined;
}

/** The thread tables' statements (src/store/sql/threads.ts), scoped by project. */
export class ThreadRepo {
  constructor(readonly db: Db) {}

  async submitRun(
    project: string,
    threadId: string,
    strategy: string,
    run: ThreadRunInsert,
  ): Promise<{ id: string; outcome: ThreadSubmitOutcome }> {
    const rows = await this.db.query<{ id: string; outcome: ThreadSubmitOutcome }>(
      T.THREAD_SUBMIT,
      [
        project,
        threadId,
        strategy,
        JSON.stringify({
          agent: run.agent,
          queue: run.queue,
          input_json: JSON.stringify(run.input ?? null),
          priority: run.priority ?? 0,
          tags: run.tags ?? {},
          idempotency_key: run.idempotencyKey ?? null,
          max_attempts: run.maxAttempts,
          available_at: run.availableAt?.toISOString() ?? null,
          parent_run_id: run.parentRunId ?? null,
          agent_version: run.agentVersion ?? null,
        }),
      ],
    );
    const row = rows[0];
    if (!row) throw new Error("thread_submit returned no row");
    return row;
  }

  async create(project: string, id: string, metadata: unknown): Promise<ThreadRow | undefined> {
    return (
      await this.db.query<ThreadRow>(T.CREATE_THREAD, [project, id, JSON.stringify(metadata)])
    )[0];
  }

  async get(project: string, id: string): Promise<ThreadRow | undefined> {
    return (await this.db.query<ThreadRow>(T.GET_THREAD, [project, id]))[0];
  }

  list(
    project: string,
    metadata: Record<string, string>,
    after: string | undefined,
    limit: number,
  ): Promise<ThreadRow[]> {
    return this.db.query<ThreadRow>(T.LIST_THREADS, [
      project,
      JSON.stringify(metadata),
      after ?? null,
      limit,
    ]);
  }

  async patch(project: string, id: string, metadata: unknown): Promise<ThreadRow | undefined> {
    return (
      await this.db.query<ThreadRow>(T.PATCH_THREAD, [project, id, JSON.stringify(metadata)])
    )[0];
  }

  async delete(project: string, id: string): Promise<{ deleted: boolean; busy: boolean }> {
    const row = (
      await this.db.query<{ deleted: boolean; busy: boolean }>(T.DELETE_THREAD, [project, id])
    )[0];
    return row ?? { deleted: false, busy: false };
  }

  messages(
    project: string,
    id: string,
    after: number,
    upto: number,
    limit: number,
  ): Promise<ThreadMessage[]> {
    return this.db.query<ThreadMessage>(T.THREAD_MESSAGES, [project, id, after, upto, limit]);
  }

  async stateAt(
    project: string,
    id: string,
    version: number | undefined,
  ): Promise<
    { version: number; message_count: number; state: Record<string, unknown> } | undefined
  > {
    return (await this.db.query(T.THREAD_STATE_AT, [project, id, version ?? null]))[0] as
      | { version: number; message_count: number; state: Record<string, unknown> }
      | undefined;
  }

  history(
    project: string,
    id: string,
    before: number | undefined,
    limit: number,
  ): Promise<ThreadVersionRow[]> {
    return this.db.query<ThreadVersionRow>(T.THREAD_HISTORY, [project, id, before ?? null, limit]);
  }

  /** A run's journaled write; undefined when fenced out (claim or thread no longer held). */
  async write(a: {
    project: string;
    threadId: string;
    runId: string;
    leaseToken: string;
    seq: number;
    messages: unknown[];
    statePatch: Record<string, unknown> | undefined;
  }): Promise<{ version: number; message_count: number } | undefined> {
    const row = (
      await this.db.query<{ version: number | null; message_count: number | null }>(
        T.THREAD_WRITE,
        [
          a.project,
          a.threadId,
          a.runId,
          a.leaseToken,
          a.seq,
          JSON.stringify(a.messages),
          a.statePatch === undefined ? null : JSON.stringify(a.statePatch),
        ],
      )
    )[0];
    if (!row || row.version === null || row.message_count === null) return undefined;
    return { version: row.version, message_count: row.message_count };
  }

  async fork(
    project: string,
    source: string,
    version: number,
    newId: string,
    metadata: unknown,
  ): Promise<boolean> {
    const rows = await this.db.query(T.FORK_THREAD, [
      project,
      source,
      version,
      newId,
      JSON.stringify(metadata),
    ]);
    return rows.length > 0;
  }
}
