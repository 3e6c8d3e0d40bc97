import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { TerminalError } from "../errors.js";
import type { ClaimedRun } from "../types/index.js";
import { AGENT_SOURCE, type AnyAgent } from "./agent.js";

const hashes = new WeakMap<AnyAgent, string>();

/**
 * The agent's version: the one it declares, else a hash of the source of the module that
 * defined it (read from disk, so every process that loads the same file agrees, whichever
 * loader transpiled it — hashing the transpiled function text did not: vitest's and jiti's
 * output differ). The hash sees that module only: declare `version` when a change in a
 * helper module alters which steps run.
 */
export function agentVersion(agent: AnyAgent): string {
  if (agent.version) return agent.version;
  let h = hashes.get(agent);
  if (!h) {
    const file = (agent as { [AGENT_SOURCE]?: string })[AGENT_SOURCE];
    let source: string;
    try {
      source = file ? readFileSync(file, "utf8") : agent.run.toString();
    } catch {
      source = agent.run.toString();
    }
    h = `sha256:${createHash("sha256").update(source).digest("hex").slice(0, 12)}`;
    hashes.set(agent, h);
  }
  return h;
}

/**
 * Default versions that releases up to bd594cb recorded for every agent alike: the hash of
 * Outlast's own src/util/caller.ts (run through tsx or vitest) or dist/util/caller.js (the
 * built package), because `callerFile` named itself instead of the agent's module. Such a
 * version says nothing about the agent, so a run that recorded one replays on any version.
 */
export const LEGACY_SHARED_VERSIONS: ReadonlySet<string> = new Set([
  "sha256:b321ece839c0",
  "sha256:ec7767039d98",
]);

/**
 * A run that already has journaled steps from another version of its agent is replayed
 * only when this version declares that one compatible; otherwise it fails with a clear
 * code instead of a confusing determinism error half way. A run with an empty journal
 * simply runs on the current version.
 */
export function versionMismatch(
  agent: AnyAgent,
  run: ClaimedRun,
  journaled: number,
): TerminalError | undefined {
  const current = agentVersion(agent);
  const recorded = run.agentVersion;
  if (!recorded || recorded === current || journaled === 0) return undefined;
  if (LEGACY_SHARED_VERSIONS.has(recorded)) return undefined;
  if (agent.compatibleVersions?.includes(recorded)) return undefined;
  return new TerminalError(
    `run ${run.id} started on version ${recorded} of agent "${agent.name}", but this worker has version ${current}. To replay it here, declare compatibleVersions: ["${recorded}"] on the agent; or resume it (POST /v1/runs/${run.id}/resume) on a worker with version ${recorded}.`,
    { code: "OUTLAST_VERSION_MISMATCH" },
  );
}
