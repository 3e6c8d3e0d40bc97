/**
 * Runner side of the adapter processes: every system runs in its own child process, so a
 * system that leaks a handle, crashes or cannot load cannot disturb the others, and each
 * can be killed with SIGKILL (workload 5).
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SystemSpec } from "../systems/index.js";
import type { Op, SystemAdapter } from "./types.js";

const HOST = fileURLToPath(new URL("./host.ts", import.meta.url));

type Args<O extends Op> = Parameters<NonNullable<SystemAdapter[O]>>[0];
type Result<O extends Op> = Awaited<ReturnType<NonNullable<SystemAdapter[O]>>>;

interface Reply {
  id?: number;
  ready?: boolean;
  ok?: boolean;
  result?: unknown;
  error?: string;
}

export class Host {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private exitError: Error | undefined;
  readonly exited: Promise<number | null>;
  private stderrTail = "";

  private constructor(
    readonly spec: SystemSpec,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
    child.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    child.on("message", (m: Reply) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error ?? "unknown error"));
    });
    void this.exited.then((code) => {
      this.exitError = new Error(
        `adapter process exited (${code})${this.stderrTail ? `: ${lastLine(this.stderrTail)}` : ""}`,
      );
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts the adapter's process; rejects with the adapter's load error if it has one. */
  static async start(spec: SystemSpec, timeoutMs = 60_000): Promise<Host> {
    const child = fork(HOST, [spec.module, JSON.stringify(spec.options ?? {})], {
      execArgv: ["--import", "tsx", ...(spec.execArgv ?? [])],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: { ...process.env, ...spec.env },
    });
    const host = new Host(spec, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`adapter did not load within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on("message", (m: Reply) => {
        if (m.ready === undefined) return;
        clearTimeout(timer);
        if (m.ready) resolve();
        else reject(new Error(m.error ?? "adapter failed to load"));
      });
      void host.exited.then(() => {
        clearTimeout(timer);
        reject(host.exitError);
      });
    });
    return host;
  }

  call<O extends Op>(op: O, args: Args<O>, timeoutMs: number): Promise<Result<O>> {
    return this.request(op, args, timeoutMs) as Promise<Result<O>>;
  }

  private request(op: string, args: unknown, timeoutMs: number): Promise<unknown> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`'${op}' took longer than ${Math.round(timeoutMs / 1000)} s`));
        this.child.kill("SIGKILL");
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, op, args });
    });
  }

  /** Asks the adapter to release what it holds, then ends the process. */
  async close(): Promise<void> {
    if (this.exitError) return;
    await this.request("close", null, 30_000).catch(() => {});
    this.child.disconnect();
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(killer);
  }
}

/**
 * The line of a dead adapter's stderr that says why: the last error line (an uncaught
 * error ends with a stack and "Node.js v20…", which say nothing), else the last line.
 */
function lastLine(s: string): string {
  const lines = s
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const why = lines.filter((l) => /^\w*(Error|error)\b|^error:/.test(l)).pop();
  return (why ?? lines.pop() ?? "").slice(0, 300);
}
