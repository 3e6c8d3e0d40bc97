import type { Command } from "commander";
import { simOptionsFromFlags, startSimulator } from "../../sim/index.js";

export function registerSim(program: Command): void {
  program
    .command("sim")
    .description("a simulated OpenAI/Anthropic provider with real rate limits, for tests and demos")
    .option("--port <n>", "port (0 = any free port)", "4010")
    .option("--rpm <n>", "requests per minute")
    .option("--tpm <n>", "tokens per minute")
    .option("--tpd <n>", "tokens per day")
    .option("--concurrency <n>", "concurrent requests")
    .option("--latency-ms <a-b>", "latency range in ms, e.g. 200-600")
    .option("--error-rate <p>", "share of requests answered with a 5xx, 0..1")
    .action(async (flags: Record<string, string | undefined>) => {
      const sim = await startSimulator(simOptionsFromFlags(flags));
      process.stdout.write(`listening on ${sim.url}\n`);
      const stop = (): void => void sim.close().then(() => process.exit(0));
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    });
}
