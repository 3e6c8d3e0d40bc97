import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { OutlastClient } from "../../src/client/client.js";
import { devSuite, ROOT, until } from "../helpers/processes.js";

const run = promisify(execFile);

/** The `outlast runs` commands against a real `outlast dev`, as a user types them. */
describe("outlast runs signal / resume", () => {
  const suite = devSuite("test/fixtures/cli.config.ts");
  let url: string;
  let client: OutlastClient;

  const cli = async (...args: string[]) => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "runs", "--url", url, ...args],
      { cwd: ROOT },
    );
    return JSON.parse(stdout) as { id: string; status: string; output: unknown };
  };

  beforeAll(() => {
    url = suite.url;
    client = new OutlastClient({ url });
  });

  it("signals a waiting run", async () => {
    const { id } = await client.submit({ agent: "approver" });
    await until(async () => (await client.get(id)).status === "waiting", 20_000, "the run to wait");
    await cli("signal", id, "approval", "--payload", '{"ok":true}');
    await until(
      async () => (await client.get(id)).status === "succeeded",
      20_000,
      "the run to finish",
    );
    expect((await client.get(id)).output).toEqual({ decision: { ok: true } });
  });

  it("resumes a failed run from its failed step", async () => {
    const { id } = await client.submit({ agent: "fixable" });
    await until(async () => (await client.get(id)).status === "failed", 20_000, "the run to fail");
    expect((await cli("resume", id)).status).toBe("queued");
    await until(
      async () => (await client.get(id)).status === "succeeded",
      20_000,
      "the run to finish",
    );
    // "first" ran once, before the failure (the dev process counts its body's runs); only
    // the failed step ran again.
    expect((await client.get(id)).output).toEqual({ sum: 3, firstRan: 1 });
    const steps = (await client.steps(id)).steps.map((s) => s.name);
    expect(steps).toEqual(["first", "second"]);
    // Watching it now follows past the first end to the run's last (`outlast runs watch`).
    const types: string[] = [];
    for await (const ev of client.events(id)) types.push(ev.type);
    expect(types.filter((t) => t === "run.failed" || t === "run.succeeded")).toEqual([
      "run.failed",
      "run.succeeded",
    ]);
    expect(types.at(-1)).toBe("run.succeeded");
  });
});
