/**
 * Standalone simulator process, for tests and benchmarks that want the provider in its
 * own process:
 *
 *   npx tsx src/sim/main.ts --port 0 --rpm 600 --latency-ms 200-600
 *
 * The first line on stdout is `listening on <url>`; parents wait for it. SIGINT/SIGTERM
 * close the server and exit 0.
 */
import { parseArgs } from "node:util";
import { simOptionsFromFlags } from "./flags.js";
import { startSimulator } from "./server.js";

const FLAGS = [
  "port",
  "host",
  "rpm",
  "tpm",
  "tpd",
  "itpm",
  "otpm",
  "concurrency",
  "latency-ms",
  "error-rate",
  "timeout-rate",
  "output-tokens",
  "seed",
  "models",
] as const;

const USAGE = `usage: main.ts ${FLAGS.map((f) => `[--${f} <value>]`).join(" ")}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(FLAGS.map((f) => [f, { type: "string" as const }])),
      help: { type: "boolean" as const, short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const flag = (name: (typeof FLAGS)[number]): string | undefined => {
    const v = (values as Record<string, string | boolean | undefined>)[name];
    return typeof v === "string" ? v : undefined;
  };
  const sim = await startSimulator(
    simOptionsFromFlags({
      port: flag("port"),
      host: flag("host"),
      rpm: flag("rpm"),
      tpm: flag("tpm"),
      tpd: flag("tpd"),
      itpm: flag("itpm"),
      otpm: flag("otpm"),
      concurrency: flag("concurrency"),
      latencyMs: flag("latency-ms"),
      errorRate: flag("error-rate"),
      timeoutRate: flag("timeout-rate"),
      outputTokens: flag("output-tokens"),
      seed: flag("seed"),
      models: flag("models"),
    }),
  );
  process.stdout.write(`listening on ${sim.url}\n`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  console.error(`sim: ${err instanceof Error ? err.message : String(err)}`);
  console.error(USAGE);
  process.exit(2);
});
