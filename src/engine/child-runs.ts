import { TerminalError } from "../errors.js";
import type { Repo } from "../store/repo.js";
import { withDbRetry } from "../store/retry.js";
import { newSpanId } from "../tracing/traceparent.js";
import type { ClaimedRun } from "../types/index.js";
import { uuidv7 } from "../util/ids.js";
import type { AnyAgent } from "./agent.js";
import { DEFAULT_RETRY } from "./backoff.js";
import type { ChildState } from "./context.js";
import { agentVersion } from "./versions.js";

/** Creates a child run (idempotent: the key is the parent's id and step) and reads its state. */
export async function startChildRun(
  repo: Repo,
  agents: ReadonlyMap<string, AnyAgent>,
  parent: ClaimedRun,
  agentName: string,
  input: unknown,
  key: string,
): Promise<ChildState> {
  const agent = agents.get(agentName);
  if (!agent) {
    throw new TerminalError(`ctx.runAgent: no agent named "${agentName}" on this worker`, {
      code: "OUTLAST_UNKNOWN_AGENT",
    });
  }
  const parsed = agent.input ? agent.input.safeParse(input) : { success: true as const };
  if (!parsed.success) {
    throw new TerminalError(
      `ctx.runAgent("${agentName}"): input does not match the agent's schema: ${parsed.error.message}`,
      {
        code: "OUTLAST_INVALID_INPUT",
      },
    );
  }
  const existing = await withDbRetry(() => repo.getRunByIdempotencyKey(parent.project, key));
  if (existing) return existing;
  const inserted = await withDbRetry(() =>
    repo.insertRuns([
      {
        id: uuidv7(),
        // A child belongs to its parent's project.
        project: parent.project,
        agent: agentName,
        queue: agent.queue ?? "default",
        input,
        threadId: parent.threadId ?? undefined,
        tags: parent.tags,
        idempotencyKey: key,
        maxAttempts: agent.retry?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
        parentRunId: parent.id,
        agentVersion: agentVersion(agent),
        // In the parent's trace, under the parent run's span.
        trace:
          parent.traceId && parent.spanId
            ? { traceId: parent.traceId, spanId: newSpanId(), parentSpanId: parent.spanId }
            : undefined,
      },
    ]),
  );
  const row = inserted[0] ?? (await repo.getRunByIdempotencyKey(parent.project, key));
  if (!row) throw new Error(`child run for ${key} could not be created`);
  return row;
}
