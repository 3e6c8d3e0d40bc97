/**
 * `outlast runs submit --wait`, `runs get` and `runs list` say why a run waits and what to
 * do, against a real `outlast dev`: the command the CLI prints for a run waiting for its
 * signal is run as printed, and the run finishes.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { OutlastClient } from "../../src/client/client.js";
import { devSuite, ROOT, until } from "../helpers/processes.js";

const run = promisify(execFile);
const CLI = ["--import", "tsx", "src/cli/main.ts"];

describe("outlast runs: why a run waits", () => {
  const suite = devSuite("test/fixtures/cli.config.ts");
  let url: string;
  let client: OutlastClient;
  beforeAll(() => {
    url = suite.url;
    client = new OutlastClient({ url });
  });

  it("submit --wait prints the reason and the command; that command ends the wait", async () => {
    const submit = spawn(
      process.execPath,
      [...CLI, "runs", "--url", url, "submit", "approver", "--wait"],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    let stdout = "";
    submit.stderr.on("data", (d) => {
      stderr += d;
    });
    submit.stdout.on("data", (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((r) => submit.on("exit", r));
    const hint =
      /waiting — waiting for signal "approval" — (outlast runs signal (\S+) approval --payload '\{\}')/;
    await until(async () => hint.test(stderr), 30_000, "the hint on stderr");
    const [, , id] = hint.exec(stderr) as RegExpExecArray;

    // `runs get` keeps stdout JSON and says why on stderr; `runs list` shows it in the row.
    const got = await run(process.execPath, [...CLI, "runs", "--url", url, "get", id as string], {
      cwd: ROOT,
    });
    expect(JSON.parse(got.stdout).waiting_for.kind).toBe("signal");
    expect(got.stderr).toContain('waiting — waiting for signal "approval" — outlast runs signal');
    const list = await run(process.execPath, [...CLI, "runs", "--url", url, "list"], { cwd: ROOT });
    expect(list.stdout.split("\n").find((l) => l.startsWith(id as string))).toContain(
      `waiting for signal "approval" — outlast runs signal ${id} approval`,
    );

    // The printed command, as a user would paste it (the CLI's name is `outlast`).
    const printed = (hint.exec(stderr) as RegExpExecArray)[1] as string;
    const args = printed
      .replace(/^outlast /, "")
      .replace("'{}'", '{"ok":true}')
      .split(" ");
    const [group, ...rest] = args;
    await run(process.execPath, [...CLI, group as string, "--url", url, ...rest], { cwd: ROOT });
    expect(await exited).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      id,
      status: "succeeded",
      output: { decision: { ok: true } },
    });
    expect((await client.get(id as string)).status).toBe("succeeded");
  });
});
