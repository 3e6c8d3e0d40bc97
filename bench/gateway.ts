/**
 * Added latency of the AI gateway: the same chat completion sent straight to the
 * simulator, through Outlast's gateway, and through Portkey's open-source gateway
 * (`@portkey-ai/gateway`, run locally), at concurrency 1 and 10. Each gateway and the
 * simulator run as their own processes; the client uses keep-alive node:http.
 *
 * Outlast runs as in production: `outlast serve` from the compiled package (dist/, built
 * first unless --prebuilt), with an API key that every call presents, the config of
 * bench/fixtures/gateway.config.ts (limits on the target — generous, so nobody waits, but
 * every call reserves and reconciles — and accounting rows written), on PostgreSQL
 * (DATABASE_URL or the local test server) unless --store pglite. Alongside runs a bare
 * node:http proxy (bench/lib/bare-proxy.mjs): what one more process in the chain costs
 * this machine, so Portkey's added latency ÷ the bare proxy's estimates the ceiling of the ratio.
 *
 * The machine the figures come from is shared and noisy (2 cores; a burst of other work
 * during one target's turn used to decide its p99). So the requests of a cell are split
 * into rounds, and a target's figure is the median of its per-round percentiles. At
 * concurrency 1 a round interleaves the targets request by request, each turn in a
 * shuffled order: every target sees the same moments of the machine, none runs in a
 * warmer state than the others, and none always follows the same other. A block of 1,000 back-to-back direct calls
 * had the client and the simulator alone on the two cores (direct p50 0.08–0.13 ms, vs
 * 0.33–0.40 ms interleaved), so every gateway's "added" figure also counted what a third
 * process in the chain costs a machine that had been running two. At concurrency 10 a
 * round sends its share to each target in turn, the order rotating from round to round
 * (interleaving would load every target at once). Every target is warmed up (300 requests) before the first round.
 *
 * Usage: npx tsx bench/gateway.ts [--requests 3000] [--rounds n] [--store postgres|pglite]
 *   [--prebuilt] [--json] [--cpu-prof dir]
 * (--requests: per target and concurrency, over all rounds; --rounds: default one per
 * 1,000 requests, 1 to 5; --prebuilt: dist/ is already built from this tree; --json: also
 * print the figures as one JSON line, for bench/run.ts; --cpu-prof: profile Outlast's
 * process into dir)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { seededRandom } from "../src/sim/random.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";
import { buildPackage } from "./lib/build.js";
import { median, percentile } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "3000" },
    rounds: { type: "string" },
    store: { type: "string", default: "postgres" },
    prebuilt: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Benchmark prompt: say something short." }],
  max_tokens: 32,
});

/** The key `outlast serve` requires; every call to Outlast carries it. */
const API_KEY = "bench-gateway-key-0123456789";

await main();

function start(
  cmd: string[],
  pattern: RegExp,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, cmd, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  return new Promise((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve({ child, url: m[1] as string });
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
    child.once("exit", (code) => reject(new Error(`${cmd.join(" ")} exited ${code}: ${out}`)));
  });
}

function once(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      `${url}/v1/chat/completions`,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(BODY),
          ...headers,
        },
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode} from ${url}`));
          else resolve(performance.now() - t0);
        });
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

type Target = {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The process serving it (the simulator for direct), whose CPU time is reported. */
  pid: number | undefined;
};
/** Latency percentiles (ms) and the serving process's CPU time per request (µs). */
type Pq = { p50: number; p99: number; cpuUs: number | undefined };

/** CPU time (user + system) of a process so far, in ms; undefined off Linux. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/** `n` requests at `concurrency`: p50 and p99 of their latencies. */
async function measure(t: Target, concurrency: number, n: number): Promise<Pq> {
  const cpu0 = cpuMs(t.pid);
  const samples: number[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) samples.push(await once(t.url, t.headers));
    }),
  );
  const cpu1 = cpuMs(t.pid);
  const cpuUs = cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) * 1000) / n;
  return { ...percentiles(samples), cpuUs };
}

/** `n` requests to each target one at a time, the targets taking turns request by request. */
async function interleaved(targets: Target[], n: number): Promise<Map<string, Pq>> {
  const cpu0 = targets.map((t) => cpuMs(t.pid));
  const samples = targets.map(() => [] as number[]);
  // Each turn in a shuffled order: a process's leftover work after answering lands on
  // whoever comes next (Portkey's CPU time per call at concurrency 1, 2.6–3.2 ms, is more
  // than its whole latency), so no target may always follow the same one, as most did
  // with a rotating order. Seeded: the same sequence every run.
  const random = seededRandom(n);
  const order = targets.map((_, j) => j);
  for (let i = 0; i < n; i++) {
    for (let k = order.length - 1; k > 0; k--) {
      const m = Math.floor(random() * (k + 1));
      [order[k], order[m]] = [order[m] as number, order[k] as number];
    }
    for (const j of order) {
      const t = targets[j] as Target;
      (samples[j] as number[]).push(await once(t.url, t.headers));
    }
  }
  const out = new Map<string, Pq>();
  for (const [j, t] of targets.entries()) {
    const c0 = cpu0[j];
    const c1 = cpuMs(t.pid);
    // The simulator (direct's process) also serves the gateways' calls in these turns.
    const served = t.name === "direct" ? n * targets.length : n;
    const cpuUs = c0 === undefined || c1 === undefined ? undefined : ((c1 - c0) * 1000) / served;
    out.set(t.name, { ...percentiles(samples[j] as number[]), cpuUs });
  }
  return out;
}

function percentiles(xs: number[]): { p50: number; p99: number } {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

/** Every target, `rounds` times in rotating order; medians of the per-round percentiles. */
async function cell(
  targets: Target[],
  concurrency: number,
  n: number,
  rounds: number,
): Promise<Record<string, Pq>> {
  for (const t of targets) for (let i = 0; i < 300; i++) await once(t.url, t.headers); // warm-up: JIT, sockets, plans
  const per: Record<string, Pq[]> = {};
  for (let r = 0; r < rounds; r++) {
    const share = Math.floor(n / rounds) + (r < n % rounds ? 1 : 0);
    if (concurrency === 1) {
      for (const [name, res] of await interleaved(targets, share)) {
        per[name] = [...(per[name] ?? []), res];
      }
      continue;
    }
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(r + k) % targets.length] as Target;
      const res = await measure(t, concurrency, share);
      per[t.name] = [...(per[t.name] ?? []), res];
    }
  }
  const out: Record<string, Pq> = {};
  for (const [name, xs] of Object.entries(per)) {
    const cpu = xs.map((x) => x.cpuUs).filter((x): x is number => x !== undefined);
    out[name] = {
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
      cpuUs: cpu.length > 0 ? median(cpu) : undefined,
    };
  }
  return out;
}

async function main(): Promise<void> {
  const n = Number(values.requests);
  const rounds = values.rounds
    ? Math.max(1, Number(values.rounds))
    : Math.max(1, Math.min(5, Math.floor(n / 1000)));
  const root = fileURLToPath(new URL("..", import.meta.url));
  const sim = await start(
    ["--import", "tsx", `${root}src/sim/main.ts`, "--port", "0"],
    /listening on (\S+)/,
  );
  if (!values.prebuilt) buildPackage();
  const store: Record<string, string> = {};
  let drop: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (values.store === "postgres") {
    if (process.env.DATABASE_URL) store.DATABASE_URL = process.env.DATABASE_URL;
    else {
      const fresh = await freshDatabaseUrl();
      store.DATABASE_URL = fresh.url;
      drop = fresh.drop;
    }
  } else {
    dataDir = mkdtempSync(join(tmpdir(), "outlast-bench-gateway-"));
    store.DATABASE_URL = "";
    store.OUTLAST_DATA_DIR = dataDir;
  }
  const outlast = await start(
    [
      ...(values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : []),
      `${root}dist/cli/main.js`,
      "serve",
      "--config",
      `${root}bench/fixtures/gateway.config.ts`,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    /listening at (http:\/\/[^"\s]+)/,
    { ...store, OUTLAST_API_KEY: API_KEY, OUTLAST_BENCH_SIM_URL: sim.url },
  );
  const bare = await start([`${root}bench/lib/bare-proxy.mjs`, sim.url], /listening on (\S+)/);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const portkey = await start(
    [
      `${root}node_modules/@portkey-ai/gateway/build/start-server.js`,
      `--port=${port}`,
      "--headless",
    ],
    /(http:\/\/localhost:\d+)/,
  ).catch(() => ({ child: undefined, url: `http://127.0.0.1:${port}` }));
  const portkeyUrl = `http://127.0.0.1:${port}`;
  const targets: Target[] = [
    {
      name: "direct",
      url: sim.url,
      headers: { authorization: "Bearer bench" },
      pid: sim.child.pid,
    },
    {
      name: "outlast",
      url: outlast.url,
      headers: { authorization: `Bearer ${API_KEY}` },
      pid: outlast.child.pid,
    },
    {
      name: "bare",
      url: bare.url,
      headers: { authorization: "Bearer bench" },
      pid: bare.child.pid,
    },
    {
      name: "portkey",
      pid: portkey.child?.pid,
      url: portkeyUrl,
      headers: {
        authorization: "Bearer bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `${sim.url}/v1`,
      },
    },
  ];
  try {
    console.log(
      `gateway added latency — ${n} requests per cell in ${rounds} round(s), medians of the rounds' percentiles, store ${values.store}\n`,
    );
    console.log(
      "conc | direct p50/p99 | outlast p50/p99 (+added) | portkey p50/p99 (+added) | portkey÷outlast added p50/p99 | bare proxy (+added), portkey÷bare",
    );
    const json: Record<string, unknown>[] = [];
    const cpuLines: string[] = [];
    for (const conc of [1, 10]) {
      const r = await cell(targets, conc, n, rounds);
      const d = r.direct!;
      const o = r.outlast!;
      const p = r.portkey!;
      const b = r.bare!;
      const add = (x: { p50: number; p99: number }) => ({ p50: x.p50 - d.p50, p99: x.p99 - d.p99 });
      const ao = add(o);
      const ap = add(p);
      const ab = add(b);
      const f = (x: number) => x.toFixed(2);
      const ratio = (a: number, b: number) => (b > 0.005 ? `${(a / b).toFixed(1)}×` : "∞");
      console.log(
        `${String(conc).padStart(4)} | ${f(d.p50)}/${f(d.p99)} ms | ${f(o.p50)}/${f(o.p99)} (+${f(ao.p50)}/+${f(ao.p99)}) | ${f(p.p50)}/${f(p.p99)} (+${f(ap.p50)}/+${f(ap.p99)}) | ${ratio(ap.p50, ao.p50)} / ${ratio(ap.p99, ao.p99)} | +${f(ab.p50)}/+${f(ab.p99)}, ${ratio(ap.p50, ab.p50)} / ${ratio(ap.p99, ab.p99)}`,
      );
      json.push({ concurrency: conc, direct: d, outlast: o, portkey: p, bare: b });
      const us = (x: Pq) => (x.cpuUs === undefined ? "?" : x.cpuUs.toFixed(0));
      cpuLines.push(
        `${String(conc).padStart(4)} | simulator ${us(d)} (direct) | outlast ${us(o)} | portkey ${us(p)} | bare proxy ${us(b)}`,
      );
    }
    console.log("\nCPU time per request of the serving process (µs; user + system):");
    for (const l of cpuLines) console.log(l);
    if (values.json) console.log(`JSON ${JSON.stringify(json)}`);
  } finally {
    for (const c of [sim.child, outlast.child, portkey.child, bare.child]) c?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    await drop?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
