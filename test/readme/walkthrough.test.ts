import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackage } from "../../bench/lib/build.js";
import { OutlastClient } from "../../src/client/client.js";
import { fencedBlocks } from "../helpers/markdown.js";
import { ROOT } from "../helpers/processes.js";

const exec = promisify(execFile);
const SECTION = "## Try it: watch, approve, cancel, resume";

/** The walk-through's shell blocks, as README.md has them. */
function walkthrough(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`${SECTION}\n`);
  expect(start, `README.md has no "${SECTION}" section`).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf("\n## ", start + SECTION.length);
  const blocks = fencedBlocks(readme.slice(start, end === -1 ? undefined : end)).filter(
    (b) => b.lang === "sh",
  );
  expect(blocks.length).toBeGreaterThan(0);
  return blocks.map((b) => b.body).join("\n");
}

/**
 * The README's walk-through, run as written against `npm start` (the compiled CLI, the
 * bundled examples, PGlite in an empty data folder). Only the address differs: the server
 * listens on a free port and the commands get it through OUTLAST_URL.
 */
describe("README walk-through on npm start", () => {
  let dev: ChildProcess;
  let devOutput = "";
  let url = "";
  let dataDir = "";

  beforeAll(async () => {
    buildPackage({ quiet: true }); // npm start runs dist/, as `npm install` builds it
    dataDir = mkdtempSync(join(tmpdir(), "outlast-readme-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OUTLAST_DATA_DIR: join(dataDir, "data"),
      OUTLAST_PORT: "0",
      OUTLAST_LOG_LEVEL: "info",
    };
    delete env.DATABASE_URL;
    // Its own process group: npm, the shell and node stop together.
    dev = spawn("npm", ["start"], { cwd: ROOT, env, detached: true, stdio: "pipe" });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start: no URL\n${devOutput}`)), 90_000);
      const onData = (d: Buffer) => {
        devOutput += d.toString();
        const m = /running at (http:\/\/\S+)/.exec(devOutput);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      dev.stdout?.on("data", onData);
      dev.stderr?.on("data", onData);
      dev.on("exit", (code) => reject(new Error(`npm start exited (${code})\n${devOutput}`)));
    });
  }, 180_000);

  afterAll(async () => {
    if (dev?.pid) {
      const exited = new Promise((r) => dev.on("exit", r));
      process.kill(-dev.pid, "SIGTERM");
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("submits, watches, approves, cancels another and resumes a failed one", async () => {
    const { stdout, stderr } = await exec("bash", ["-c", `set -euo pipefail\n${walkthrough()}`], {
      cwd: ROOT,
      env: { ...process.env, OUTLAST_URL: url },
      timeout: 120_000,
    }).catch((err) => {
      throw new Error(`the walk-through failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
    });

    const client = new OutlastClient({ url });
    const runs = (await client.list({ agent: "release" })).runs.reverse();
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "cancelled", "succeeded"]);
    const [approved, cancelled, resumed] = runs as [
      (typeof runs)[0],
      (typeof runs)[0],
      (typeof runs)[0],
    ];

    // The watch showed the run waiting for its signal, then its end.
    expect(stderr).toMatch(/waiting[\s\S]*succeeded/);
    expect(approved.output).toMatchObject({ title: "Ship v2", published: true, by: "ada" });
    expect(cancelled.finished_at).not.toBeNull();

    // The failed run failed at publish, and resuming it did not repeat the LLM call.
    expect(stdout + stderr).toContain("failed, as asked");
    expect(resumed.output).toMatchObject({ title: "Ship v3", published: true });
    const steps = (await client.steps(resumed.id)).steps;
    expect(steps.map((s) => [s.name, s.status])).toEqual([
      ["draft notes", "succeeded"],
      ["cool down", "succeeded"],
      ["approval", "succeeded"],
      ["publish", "succeeded"],
    ]);
    const usage = (await (await fetch(`${url}/v1/usage?group_by=run`)).json()) as {
      data: { run: string; requests: number }[];
    };
    expect(usage.data.find((u) => u.run === resumed.id)?.requests).toBe(1);
    // The worker said so at info.
    expect(devOutput).toMatch(new RegExp(`run failed.*${resumed.id}|${resumed.id}.*run failed`));

    // `outlast workers` listed the dev process's worker.
    expect(stdout).toMatch(/worker\s+queues\s+in use\s+free\s+last heartbeat/);
    expect(stdout).toMatch(/default/);
  }, 150_000);
});
