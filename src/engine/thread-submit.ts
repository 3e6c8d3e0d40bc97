import { RequestError } from "../errors.js";
import type { Repo } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import type { ThreadRepo } from "../store/threads.js";
import {
  DEFAULT_PROJECT,
  MULTITASK_STRATEGIES,
  type MultitaskStrategy,
  type RunRow,
} from "../types/index.js";
import { THREAD_ID_RE } from "./thread-service.js";

/**
 * A run on a thread: outlast.thread_submit (migration 016) takes the thread's lock, applies
 * the multitask strategy and inserts the run ready (idle thread) or queued behind it.
 */
export async function submitOnThread(
  threads: ThreadRepo,
  repo: Repo,
  req: {
    project?: string | undefined;
    thread_id?: string | undefined;
    multitask_strategy?: MultitaskStrategy | undefined;
    idempotency_key?: string | undefined;
  },
  run: Parameters<ThreadRepo["submitRun"]>[3],
): Promise<{ run: RunRow; created: boolean }> {
  const threadId = req.thread_id ?? "";
  if (!THREAD_ID_RE.test(threadId)) {
    throw new RequestError(
      "OUTLAST_INVALID_REQUEST",
      "thread_id: 1 to 255 characters, no control characters",
    );
  }
  const strategy = req.multitask_strategy ?? "enqueue";
  if (!MULTITASK_STRATEGIES.includes(strategy)) {
    throw new RequestError(
      "OUTLAST_INVALID_REQUEST",
      `multitask_strategy must be one of ${MULTITASK_STRATEGIES.join(", ")}`,
    );
  }
  const project = req.project ?? DEFAULT_PROJECT;
  const r = await withDbRetry(() => threads.submitRun(project, threadId, strategy, run));
  if (r.outcome === "busy") {
    throw new RequestError(
      "OUTLAST_THREAD_BUSY",
      `thread "${threadId}" has a run in progress (${r.id}); multitask_strategy "reject" refuses a second`,
      { details: { thread_id: threadId, active_run_id: r.id } },
    );
  }
  const row = await withDbRetry(() => repo.getRun(r.id));
  if (!row) throw new Error(`run ${r.id} vanished after its submit`);
  if (r.outcome === "existing" && row.agent !== run.agent) {
    throw new RequestError(
      "OUTLAST_IDEMPOTENCY_CONFLICT",
      `idempotency key "${req.idempotency_key}" already belongs to a run of agent "${row.agent}"`,
    );
  }
  return { run: row, created: r.outcome !== "existing" };
}
