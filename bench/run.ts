/**
 * `npm run bench`: every workload of issue 7 side by side with the reference systems,
 * then BENCHMARKS.md and bench/charts/*.svg. Sized to finish in under 15 minutes on the
 * 2-core development machine.
 *
 * Usage: npm run bench [-- --quick] [-- --only 1,2,p,…] [-- --rounds 3]
 * With --quick or --only the report goes to a temporary folder, not BENCHMARKS.md.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { describeMachine } from "./lib/machine.js";
import { Progress } from "./lib/progress.js";
import { render } from "./lib/render.js";
import type { Ctx, Section } from "./lib/report.js";
import { checkpoint } from "./workloads/checkpoint.js";
import { gateway } from "./workloads/gateway.js";
import { kill } from "./workloads/kill.js";
import { latency } from "./workloads/latency.js";
import { type ProfileData, profile } from "./workloads/profile.js";
import { steps } from "./workloads/steps.js";
import { throughput } from "./workloads/throughput.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    rounds: { type: "string" },
  },
});

let profileData: ProfileData | undefined;
/** In run order; `--only` takes these ids ("p" is the profile of section 7). */
const WORKLOADS: [string, (ctx: Ctx) => Promise<Section>][] = [
  ["1", throughput],
  ["2", steps],
  ["3", checkpoint],
  ["4", latency],
  [
    "p",
    async (ctx) => {
      const r = await profile(ctx);
      profileData = r.data;
      return r.section;
    },
  ],
  ["5", kill],
  ["6", gateway],
];

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const partial = values.quick || values.only !== undefined;
const only = values.only?.split(",").map((s) => s.trim());
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));

const progress = new Progress();
progress.status("describing the machine");
const machine = await describeMachine();
progress.log(
  `${machine.cpu}, ${machine.nproc} cores, ${machine.memory}; Node ${machine.node}; PostgreSQL ${machine.postgres}; Redis ${machine.redis}; load ${machine.loadAtStart.map((l) => l.toFixed(2)).join(" ")}`,
);
const ctx: Ctx = { progress, rounds, quick: values.quick ?? false };
const sections: Section[] = [];
for (const [id, run] of WORKLOADS) {
  if (only && !only.includes(id)) continue;
  try {
    sections.push(await run(ctx));
  } catch (err) {
    progress.log(`workload ${id} failed: ${(err as Error).stack ?? err}`);
    sections.push({
      id: `w${id}`,
      title: `Workload ${id}`,
      body: `The workload failed: \`${(err as Error).message}\``,
      charts: [],
      comparisons: [],
      failures: [{ system: `workload ${id}`, error: (err as Error).message }],
    });
  }
}

const outDir = partial ? mkdtempSync(join(os.tmpdir(), "outlast-bench-")) : ROOT;
const chartDir = join(outDir, "bench", "charts");
mkdirSync(chartDir, { recursive: true });
for (const s of sections) for (const c of s.charts) writeFileSync(join(chartDir, c.file), c.svg);
// The profile section is measured before workload 5 but read after workload 6.
const order = ["throughput", "steps", "checkpoint", "latency", "kill", "gateway", "profile"];
sections.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
const md = render({
  machine,
  sections,
  profile: profileData,
  rounds,
  elapsedS: progress.elapsedSeconds(),
  loadAtEnd: os.loadavg(),
  chartDir: "bench/charts",
});
const file = join(outDir, "BENCHMARKS.md");
writeFileSync(file, md);
progress.done();
console.log(`\nwrote ${file} and ${chartDir}/*.svg`);
console.log(`elapsed: ${progress.elapsed()} (${Math.round(progress.elapsedSeconds())} s)`);
