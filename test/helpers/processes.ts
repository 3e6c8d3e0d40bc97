import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import type { Db } from "../../src/store/db.js";
import { openStore } from "../../src/store/open.js";
import { freshDatabaseUrl } from "./db.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** Starts `outlast <args>` from source in its own process. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, OUTLAST_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return {
    child,
    exited,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.match(pattern);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`timed out waiting for ${pattern}; output so far:\n${out.slice(-3000)}`),
          );
        }, timeoutMs);
        listeners.add(check);
        void exited.then((code) => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(
              new Error(`process exited (${code}) before ${pattern}; output:\n${out.slice(-3000)}`),
            );
          }
        });
        check();
      });
    },
  };
}

export interface LedgerLine {
  runId: string;
  seq: number;
  at: number;
  pid: number;
}

/** The space-separated fields of each line of a file fixtures append to; none when it is missing. */
export function readFields(path: string): string[][] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "));
}

export function readLedger(path: string): LedgerLine[] {
  return readFields(path).map(([runId, seq, at, pid]) => ({
    runId: runId!,
    seq: Number(seq),
    at: Number(at),
    pid: Number(pid),
  }));
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A suite that runs worker processes against its own fresh PostgreSQL database: the
 * database is made before the tests and dropped after, and every process the suite
 * spawned is killed. Read the fields inside tests (they are set in beforeAll).
 */
export function processSuite(): { url: string; db: Db; procs: CliProcess[] } {
  const suite = { url: "", db: undefined as unknown as Db, procs: [] as CliProcess[] };
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const fresh = await freshDatabaseUrl();
    suite.url = fresh.url;
    drop = fresh.drop;
    suite.db = await openStore({ databaseUrl: fresh.url });
  });
  afterAll(async () => {
    for (const p of suite.procs) p.child.kill("SIGKILL");
    await Promise.all(suite.procs.map((p) => p.exited));
    await suite.db?.close();
    await drop?.();
  });
  return suite;
}

/**
 * A suite that talks to its own `outlast dev` (from source, PGlite in a temporary folder,
 * a free port), started before the tests and stopped with SIGTERM after. Read the fields
 * inside tests (they are set in beforeAll).
 */
export function devSuite(config: string): { url: string; simUrl: string; dev: CliProcess } {
  const suite = { url: "", simUrl: "", dev: undefined as unknown as CliProcess };
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "outlast-dev-"));
    suite.dev = spawnCli(["dev", "--config", config, "--port", "0"], {
      DATABASE_URL: undefined,
      OUTLAST_DATA_DIR: join(dir, "data"),
    });
    suite.url = (await suite.dev.waitFor(/running at http:\/\/\S+/, 60_000)).replace(
      "running at ",
      "",
    );
    // The banner's last line; the provider line, when there is one, comes before it.
    await suite.dev.waitFor(/docs: +http/, 10_000);
    const sim = /simulated, at (http:\/\/\S+)/.exec(suite.dev.output());
    suite.simUrl = sim?.[1] ?? "";
  }, 90_000);
  afterAll(async () => {
    suite.dev?.child.kill("SIGTERM");
    await suite.dev?.exited;
  });
  return suite;
}
