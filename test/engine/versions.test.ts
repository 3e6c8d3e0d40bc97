/**
 * An agent's default version is a hash of the module that defines it: agents in two
 * modules differ, and editing one module changes only its agent's version. Runs recorded
 * with the shared version that releases up to bd594cb gave every agent still replay.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { AnyAgent } from "../../src/engine/agent.js";
import {
  agentVersion,
  LEGACY_SHARED_VERSIONS,
  versionMismatch,
} from "../../src/engine/versions.js";
import type { ClaimedRun } from "../../src/types/index.js";

const dir = mkdtempSync(join(tmpdir(), "outlast-versions-"));
const agentModule = (name: string, step: string) => `
import { defineAgent } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "../../src/engine/agent.ts")).href)};
export const agent = defineAgent({ name: ${JSON.stringify(name)}, run: async (ctx) => ctx.step(${JSON.stringify(step)}, () => 1) });
`;
let loads = 0;
async function load(file: string, name: string, step: string): Promise<AnyAgent> {
  writeFileSync(join(dir, file), agentModule(name, step));
  // A query string makes a fresh module instance, as a restarted process would load.
  const mod = await import(`${pathToFileURL(join(dir, file)).href}?v=${++loads}`);
  return mod.agent as AnyAgent;
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("default agent versions", () => {
  it("agents in two modules get different versions; an edit changes only its module's", async () => {
    const a = await load("a.ts", "alpha", "one");
    const b = await load("b.ts", "beta", "one");
    expect(agentVersion(a)).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(agentVersion(a)).not.toBe(agentVersion(b));
    for (const legacy of LEGACY_SHARED_VERSIONS) expect(agentVersion(a)).not.toBe(legacy);

    const a2 = await load("a.ts", "alpha", "renamed step");
    const b2 = await load("b.ts", "beta", "one");
    expect(agentVersion(a2)).not.toBe(agentVersion(a));
    expect(agentVersion(b2)).toBe(agentVersion(b));
  });

  it("a run recorded with a version of another module fails with OUTLAST_VERSION_MISMATCH", async () => {
    const a = await load("c.ts", "gamma", "one");
    const run = { id: "r", agentVersion: "sha256:000000000000" } as ClaimedRun;
    expect(versionMismatch(a, run, 1)?.code).toBe("OUTLAST_VERSION_MISMATCH");
  });

  it("a run recorded with the old shared version replays on any version", async () => {
    const a = await load("d.ts", "delta", "one");
    for (const legacy of LEGACY_SHARED_VERSIONS) {
      expect(versionMismatch(a, { id: "r", agentVersion: legacy } as ClaimedRun, 3)).toBe(
        undefined,
      );
    }
  });
});
