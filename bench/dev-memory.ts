/**
 * `outlast dev`'s resident memory, as `npm start` runs it (compiled, `node dist/cli/main.js
 * dev`, the bundled examples, PGlite): on a first start in an empty data folder, then on
 * a restart on the same folder. Each is read 10 s after "running at" and again after 20
 * runs of the `hello` example, with a breakdown from /proc/PID/smaps:
 *
 *   - wasm (n): the n WebAssembly memories (PGlite's heap: Postgres' shared buffers and
 *     caches). V8 reserves ~10 GB of address space per memory; the pages in use are the
 *     read-write start of that reservation.
 *   - js+native: every other anonymous mapping (V8's heaps, compiled code, malloc).
 *   - files: file-backed pages (node itself, shared libraries, mapped files).
 *
 * The tree column adds the processes `dev` started that are still alive.
 * Usage: npx tsx bench/dev-memory.ts [--runs 20] [--settle-s 10] [--rounds 1] [--no-build]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildPackage } from "./lib/build.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "20" },
    "settle-s": { type: "string", default: "10" },
    rounds: { type: "string", default: "1" },
    "no-build": { type: "boolean", default: false },
  },
});
const RUNS = Number(values.runs);
const SETTLE_MS = Number(values["settle-s"]) * 1_000;
const ROUNDS = Number(values.rounds);
const ROOT = new URL("..", import.meta.url).pathname;
const LIMIT_MB = 400;

interface Breakdown {
  rss: number;
  wasm: number;
  wasmMemories: number;
  jsNative: number;
  files: number;
  tree: number;
  peak: number;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function breakdown(pid: number): Breakdown {
  const b = { rss: 0, wasm: 0, wasmMemories: 0, jsNative: 0, files: 0, tree: 0, peak: 0 };
  const maps: { start: bigint; end: bigint; perms: string; path: string; rssKb: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perms: head[3]!,
        path: head[4] ?? "",
        rssKb: 0,
      });
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && maps.length > 0) maps[maps.length - 1]!.rssKb = Number(m[1]);
  }
  const GB8 = 8n * 1024n ** 3n;
  for (const [i, map] of maps.entries()) {
    const mb = map.rssKb / 1024;
    b.rss += mb;
    const next = maps[i + 1];
    // A WebAssembly memory: read-write pages directly followed by the rest of V8's
    // reservation for it (guard pages, ~10 GB in all, no access).
    const isWasm =
      map.path === "" &&
      map.perms.startsWith("rw") &&
      next !== undefined &&
      next.start === map.end &&
      next.perms.startsWith("---") &&
      next.end - map.start >= GB8;
    if (isWasm) {
      b.wasm += mb;
      b.wasmMemories++;
    } else if (map.path.startsWith("/")) b.files += mb;
    else b.jsNative += mb;
  }
  b.tree = treePids(pid).reduce((sum, p) => sum + rssMb(p), 0);
  b.peak =
    Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
  return b;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(m?.[1] ?? 0) / 1024;
  } catch {
    return 0; // exited meanwhile
  }
}

/** The process and its live descendants. */
function treePids(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

async function startDev(dataDir: string) {
  const child = spawn(process.execPath, ["dist/cli/main.js", "dev", "--port", "0"], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: "", OUTLAST_DATA_DIR: dataDir, OUTLAST_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const started = Date.now();
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`outlast dev exited before it was ready:\n${out}`)));
  });
  return { child, url, exited, readyMs: Date.now() - started };
}

async function submitRuns(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/v1/runs?wait=20`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ agent: "hello", input: { name: `Ada ${i}` } }),
    });
    const run = (await res.json()) as { status: string };
    if (run.status !== "succeeded") throw new Error(`run ${i} ended ${run.status}`);
  }
}

async function measure(label: string, dataDir: string) {
  const dev = await startDev(dataDir);
  try {
    await wait(SETTLE_MS);
    const idle = breakdown(dev.child.pid!);
    await submitRuns(dev.url, RUNS);
    const loaded = breakdown(dev.child.pid!);
    return { label, readyMs: dev.readyMs, idle, loaded };
  } finally {
    dev.child.kill("SIGTERM");
    await dev.exited;
  }
}

if (!values["no-build"]) buildPackage({ quiet: true });
const rows: Awaited<ReturnType<typeof measure>>[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), "outlast-dev-memory-"));
  try {
    rows.push(await measure("first start", join(dir, "data")));
    rows.push(await measure("restart", join(dir, "data")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (n: number) => n.toFixed(0).padStart(5);
console.log(
  `\noutlast dev resident memory, MB (${values["settle-s"]} s after ready; after ${RUNS} runs of hello)\n`,
);
console.log(
  "| start       | ready ms | when             |   rss |  wasm (n) | js+native | files |  tree |  peak |",
);
console.log(
  "|-------------|----------|------------------|-------|-----------|-----------|-------|-------|-------|",
);
for (const r of rows) {
  for (const [when, b] of [
    [`${values["settle-s"]} s after ready`, r.idle],
    [`after ${RUNS} runs`, r.loaded],
  ] as const) {
    console.log(
      `| ${r.label.padEnd(11)} | ${String(r.readyMs).padStart(8)} | ${when.padEnd(16)} | ${f(b.rss)} | ${f(b.wasm)} (${b.wasmMemories}) | ${f(b.jsNative).padStart(9)} | ${f(b.files)} | ${f(b.tree)} | ${f(b.peak)} |`,
    );
  }
}
const worst = Math.max(...rows.flatMap((r) => [r.idle.tree, r.loaded.tree]));
console.log(
  `\nhighest: ${worst.toFixed(0)} MB (limit ${LIMIT_MB} MB): ${worst < LIMIT_MB ? "ok" : "OVER"}`,
);
