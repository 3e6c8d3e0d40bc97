/**
 * The gateway of two checkouts of Outlast side by side: each tree's `outlast serve` (its
 * built dist/, the config of bench/fixtures/gateway.config.ts, a fresh PostgreSQL
 * database each) behind one simulator, requests at concurrency 1 interleaved request by
 * request in alternating order, p50 per round. Separate bench/gateway.ts runs minutes
 * apart differed by more than a change to one request's handling on this shared machine
 * (one tree's c1 p50 ranged 1.03–1.91 ms over six runs at a load of 13–15); interleaved
 * requests see the same noise. Run it with the trees swapped, and once with one tree as
 * both (A/A), to see how far the two processes differ by luck alone.
 *
 *   (cd /tmp/base && npm run build) && npm run build
 *   npx tsx bench/compare-gateway-trees.ts --old /tmp/base --new . [--rounds 5] [--per 400]
 *
 * Prints each round and the medians of the rounds' p50s and of their ratios (new ÷ old).
 */
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median, percentile } from "../bench/lib/stats.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";

const { values } = parseArgs({
  options: {
    old: { type: "string" },
    new: { type: "string" },
    rounds: { type: "string", default: "5" },
    per: { type: "string", default: "400" },
  },
});
const API_KEY = "bench-gateway-key-0123456789";
const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Benchmark prompt: say something short." }],
  max_tokens: 32,
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const children: ChildProcess[] = [];

function start(cmd: string[], pattern: RegExp, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, cmd, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  children.push(child);
  let out = "";
  return new Promise<string>((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m[1] as string);
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
    child.once("exit", (code) => reject(new Error(`${cmd.join(" ")} exited ${code}: ${out}`)));
  });
}

function once(url: string): Promise<number> {
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
          authorization: `Bearer ${API_KEY}`,
        },
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(performance.now() - t0)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

const root = fileURLToPath(new URL("..", import.meta.url));
const sim = await start(
  ["--import", "tsx", `${root}src/sim/main.ts`, "--port", "0"],
  /listening on (\S+)/,
);
const dbs = await Promise.all([freshDatabaseUrl(), freshDatabaseUrl()]);
if (!values.old || !values.new)
  throw new Error("--old <checkout> and --new <checkout> are required");
const trees = { old: resolve(values.old), new: resolve(values.new) };
const urls: Record<string, string> = {};
let i = 0;
for (const [name, root] of Object.entries(trees)) {
  urls[name] = await start(
    [
      `${root}/dist/cli/main.js`,
      "serve",
      "--config",
      `${root}/bench/fixtures/gateway.config.ts`,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    /listening at (http:\/\/[^"\s]+)/,
    { DATABASE_URL: dbs[i++]!.url, OUTLAST_API_KEY: API_KEY, OUTLAST_BENCH_SIM_URL: sim },
  );
}
try {
  for (let k = 0; k < 300; k++) for (const u of Object.values(urls)) await once(u);
  const ratios: number[] = [];
  const p50s: Record<string, number[]> = { old: [], new: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    const lat: Record<string, number[]> = { old: [], new: [] };
    for (let k = 0; k < Number(values.per); k++) {
      const order = (k + r) % 2 === 0 ? ["old", "new"] : ["new", "old"];
      for (const n of order) lat[n]!.push(await once(urls[n]!));
    }
    const o = percentile(lat.old!, 50);
    const n = percentile(lat.new!, 50);
    p50s.old!.push(o);
    p50s.new!.push(n);
    ratios.push(n / o);
    console.log(
      `round ${r + 1}: old p50 ${o.toFixed(3)} ms, new ${n.toFixed(3)} ms, new÷old ${(n / o).toFixed(3)}`,
    );
  }
  console.log(
    `median p50 old ${median(p50s.old!).toFixed(3)} ms, new ${median(p50s.new!).toFixed(3)} ms; median ratio ${median(ratios).toFixed(3)}`,
  );
} finally {
  for (const c of children) c.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  for (const d of dbs) await d.drop().catch(() => {});
  agent.destroy();
}
