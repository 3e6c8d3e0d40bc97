import { RequestError } from "../errors.js";
import type { Db } from "../store/db.js";
import { withDbRetry } from "../store/retry.js";
import { ThreadRepo } from "../store/threads.js";
import type { ThreadMessage, ThreadRow, ThreadVersionRow } from "../types/index.js";
import { uuidv7 } from "../util/ids.js";

/** Thread ids: what a client may name a thread (also the `thread_id` of a run). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
export const THREAD_ID_RE = /^[^\u0000-\u001f]{1,255}$/;

/**
 * Threads as the API and the CLI see them: create, read, list, patch, delete, and their
 * transcript, state, history and forks. Every call names the caller's project. Running
 * runs on a thread (one at a time) is RunService.submit and migration 016's functions.
 */
export class ThreadService {
  readonly repo: ThreadRepo;

  constructor(db: Db) {
    this.repo = new ThreadRepo(db);
  }

  async create(
    project: string,
    req: { id?: string | undefined; metadata?: Record<string, unknown> | undefined },
  ): Promise<ThreadRow> {
    const id = req.id ?? uuidv7();
    checkId(id);
    const row = await withDbRetry(() => this.repo.create(project, id, req.metadata ?? {}));
    if (!row) throw new RequestError("OUTLAST_THREAD_EXISTS", `thread "${id}" already exists`);
    return row;
  }

  async get(project: string, id: string): Promise<ThreadRow> {
    checkId(id);
    const row = await withDbRetry(() => this.repo.get(project, id));
    if (!row) throw notFound(id);
    return row;
  }

  async list(
    project: string,
    req: { metadata: Record<string, string>; cursor?: string | undefined; limit?: number },
  ): Promise<{ threads: ThreadRow[]; next_cursor: string | null }> {
    const limit = req.limit ?? 50;
    const rows = await withDbRetry(() =>
      this.repo.list(project, req.metadata, req.cursor, limit + 1),
    );
    const more = rows.length > limit;
    const threads = more ? rows.slice(0, limit) : rows;
    return { threads, next_cursor: more ? (threads.at(-1)?.id ?? null) : null };
  }

  async patch(project: string, id: string, metadata: Record<string, unknown>): Promise<ThreadRow> {
    checkId(id);
    const row = await withDbRetry(() => this.repo.patch(project, id, metadata));
    if (!row) throw notFound(id);
    return row;
  }

  /** Deletes an idle thread, its messages and versions; its runs keep their journals. */
  async delete(project: string, id: string): Promise<void> {
    checkId(id);
    const r = await withDbRetry(() => this.repo.delete(project, id));
    if (r.busy) {
      throw new RequestError(
        "OUTLAST_THREAD_BUSY",
        `thread "${id}" has a run in progress; cancel it (and any queued behind it) first`,
      );
    }
    if (!r.deleted) throw notFound(id);
  }

  /** A page of the transcript, oldest first; `after` is the last `seq` of the page before. */
  async messages(
    project: string,
    id: string,
    req: { after?: number | undefined; limit?: number | undefined },
  ): Promise<{ messages: ThreadMessage[]; next_cursor: number | null }> {
    const t = await this.get(project, id);
    const limit = req.limit ?? 100;
    const rows = await withDbRetry(() =>
      this.repo.messages(project, id, req.after ?? 0, t.message_count, limit + 1),
    );
    const more = rows.length > limit;
    const messages = more ? rows.slice(0, limit) : rows;
    return { messages, next_cursor: more ? (messages.at(-1)?.seq ?? null) : null };
  }

  async state(
    project: string,
    id: string,
    version?: number,
  ): Promise<{ version: number; message_count: number; state: Record<string, unknown> }> {
    await this.get(project, id);
    const s = await withDbRetry(() => this.repo.stateAt(project, id, version));
    if (!s) throw versionNotFound(id, version);
    return s;
  }

  async history(
    project: string,
    id: string,
    req: { before?: number | undefined; limit?: number | undefined },
  ): Promise<{ versions: ThreadVersionRow[]; next_cursor: number | null }> {
    await this.get(project, id);
    const limit = req.limit ?? 50;
    const rows = await withDbRetry(() => this.repo.history(project, id, req.before, limit + 1));
    const more = rows.length > limit;
    const versions = more ? rows.slice(0, limit) : rows;
    return { versions, next_cursor: more ? (versions.at(-1)?.version ?? null) : null };
  }

  /** A new thread holding the source's transcript and state at `version` (default: current). */
  async fork(
    project: string,
    id: string,
    req: {
      version?: number | undefined;
      id?: string | undefined;
      metadata?: Record<string, unknown> | undefined;
    },
  ): Promise<ThreadRow> {
    const source = await this.get(project, id);
    const version = req.version ?? source.version;
    if (version < 0 || version > source.version) throw versionNotFound(id, version);
    const newId = req.id ?? uuidv7();
    checkId(newId);
    const made = await withDbRetry(() =>
      this.repo.fork(project, id, version, newId, req.metadata ?? source.metadata),
    );
    if (!made) {
      if (await this.repo.get(project, newId)) {
        throw new RequestError("OUTLAST_THREAD_EXISTS", `thread "${newId}" already exists`);
      }
      throw versionNotFound(id, version);
    }
    return this.get(project, newId);
  }
}

function checkId(id: string): void {
  if (!THREAD_ID_RE.test(id)) {
    throw new RequestError(
      "OUTLAST_INVALID_ID",
      `"${id.slice(0, 64)}" is not a thread id: 1 to 255 characters, no control characters`,
    );
  }
}

function notFound(id: string): RequestError {
  return new RequestError("OUTLAST_THREAD_NOT_FOUND", `no thread with id "${id}"`);
}

function versionNotFound(id: string, version: number | undefined): RequestError {
  return new RequestError(
    "OUTLAST_THREAD_VERSION_NOT_FOUND",
    `thread "${id}" has no version ${version ?? "(current)"}`,
  );
}
