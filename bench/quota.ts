/**
 * The quota scenario, Outlast's mode and the naive recipe side by side: N runs × 30 LLM
 * steps submitted at once to 4 worker processes, against the simulated provider limited
 * to RPM 600 / TPM 120,000 / 20 concurrent, latency 200–600 ms.
 *
 * --time-scale k replays the same scenario k times faster: RPM and TPM × k, latency and
 * the naive recipe's backoff ÷ k, concurrency unchanged (at the base rate the simulator
 * holds ~4 calls at once, so 20 does not bind at either speed). The quota bound shrinks
 * by k and every ratio printed keeps its meaning; `npm run bench` uses it to fit the
 * full-size scenario (over ten minutes per mode at k = 1) into its time budget.
 *
 * Usage: npx tsx bench/quota.ts [--runs 200] [--steps 30] [--only outlast|naive] [--time-scale 1]
 */
import { parseArgs } from "node:util";
import { openStore } from "../src/store/open.js";
import { Repo } from "../src/store/repo.js";
import { withDbRetry } from "../src/store/retry.js";
import { uuidv7 } from "../src/util/ids.js";
import { startSimProcess } from "../test/gateway/helpers.js";
import { freshDatabaseUrl } from "../test/helpers/db.js";
import { spawnCli } from "../test/helpers/processes.js";
import { naiveMode, outlastMode } from "./fixtures/quota.config.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "200" },
    steps: { type: "string", default: "30" },
    only: { type: "string" },
    "time-scale": { type: "string", default: "1" },
  },
});
const RUNS = Number(values.runs);
const STEPS = Number(values.steps);
const SCALE = Number(values["time-scale"]);
if (!(SCALE >= 1)) throw new Error("--time-scale must be a number ≥ 1");
const TPM = 120_000 * SCALE;
const RPM = 600 * SCALE;
const LATENCY = `${Math.round(200 / SCALE)}-${Math.round(600 / SCALE)}`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function scenario(mode: "outlast" | "naive") {
  const sim = await startSimProcess([
    "--rpm",
    String(RPM),
    "--tpm",
    String(TPM),
    "--concurrency",
    "20",
    "--latency-ms",
    LATENCY,
  ]);
  const { url, drop } = await freshDatabaseUrl();
  const db = await openStore({ databaseUrl: url });
  const env = {
    DATABASE_URL: url,
    OUTLAST_BENCH_SIM_URL: sim.url,
    OUTLAST_BENCH_STEPS: String(STEPS),
    OUTLAST_BENCH_TIME_SCALE: String(SCALE),
    OUTLAST_LOG_LEVEL: "warn",
  };
  const workers = Array.from({ length: 4 }, () =>
    spawnCli(["worker", "--config", "bench/fixtures/quota.config.ts"], env),
  );
  try {
    await new Promise((r) => setTimeout(r, 4_000));
    const agent = mode === "outlast" ? outlastMode : naiveMode;
    await new Repo(db).insertRuns(
      Array.from({ length: RUNS }, () => ({
        id: uuidv7(),
        project: "default",
        agent: agent.name,
        queue: "default",
        input: null,
        maxAttempts: 1,
      })),
    );
    const t0 = Date.now();
    let last = "";
    for (;;) {
      // Retried like the engine's own statements: a PostgreSQL restart (another session's
      // chaos test) must not end a 25-minute benchmark.
      const by = await withDbRetry(() =>
        db.query<{ status: string; n: number }>(
          "SELECT status, count(*)::int AS n FROM outlast.runs GROUP BY status ORDER BY status",
        ),
      );
      const line = by.map((r) => `${r.status} ${r.n}`).join(", ");
      if (line !== last)
        process.stderr.write(`  ${mode} ${((Date.now() - t0) / 1000).toFixed(0)}s: ${line}\n`);
      last = line;
      if (by.every((r) => ["succeeded", "failed", "cancelled"].includes(r.status))) break;
      await new Promise((r) => setTimeout(r, 2_000));
    }
    const stats = await sim.stats();
    const runs = await db.query<{ status: string; secs: number; created: Date; finished: Date }>(
      "SELECT status, extract(epoch FROM finished_at - created_at)::float8 AS secs, created_at AS created, finished_at AS finished FROM outlast.runs",
    );
    const wasted = (
      await db.query<{ tokens: number }>(
        `SELECT coalesce(sum(CASE WHEN s.kind = 'llm' THEN (s.output->'usage'->>'inputTokens')::int + (s.output->'usage'->>'outputTokens')::int
                                  ELSE (s.output #>> '{}')::int END), 0)::int AS tokens
         FROM outlast.steps s JOIN outlast.runs r ON r.id = s.run_id
         WHERE r.status = 'failed' AND s.status = 'succeeded'`,
      )
    )[0]!.tokens;
    const makespanS =
      (Math.max(...runs.map((r) => r.finished.getTime())) -
        Math.min(...runs.map((r) => r.created.getTime()))) /
      1000;
    const tokens = stats.tokens.input + stats.tokens.output;
    const boundS = Math.max((tokens / TPM) * 60, (stats.ok / RPM) * 60);
    return {
      mode,
      succeeded: runs.filter((r) => r.status === "succeeded").length,
      requests: stats.requests,
      rateLimited: stats.rateLimited,
      wasted,
      tokens,
      makespanS,
      boundS,
      p50: pct(
        runs.map((r) => r.secs),
        50,
      ),
      p95: pct(
        runs.map((r) => r.secs),
        95,
      ),
    };
  } finally {
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await db.close();
    await drop();
    await sim.stop();
  }
}

const rows = [];
for (const mode of ["outlast", "naive"] as const) {
  if (values.only && values.only !== mode) continue;
  process.stderr.write(`quota scenario, ${mode} mode: ${RUNS} runs × ${STEPS} LLM steps…\n`);
  rows.push(await scenario(mode));
}
console.log(
  `\nquota scenario: ${RUNS} runs × ${STEPS} LLM steps, 4 workers, simulator RPM ${RPM} / TPM ${TPM} / 20 concurrent, latency ${LATENCY.replace("-", "–")} ms${SCALE === 1 ? "" : ` (time scale ${SCALE}: the scenario of RPM 600 / TPM 120,000 / latency 200–600 ms, ${SCALE}× faster)`}`,
);
console.log(
  "| mode | runs succeeded | 429s sent | share of calls 429 | tokens spent on failed runs | makespan ÷ quota bound | p50 run latency | p95 run latency |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.mode} | ${r.succeeded}/${RUNS} | ${r.rateLimited} | ${((100 * r.rateLimited) / Math.max(1, r.requests)).toFixed(2)}% | ${r.wasted} | ${(r.makespanS / r.boundS).toFixed(2)} (${r.makespanS.toFixed(0)} s ÷ ${r.boundS.toFixed(0)} s) | ${r.p50.toFixed(1)} s | ${r.p95.toFixed(1)} s |`,
  );
}
