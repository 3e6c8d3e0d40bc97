#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { OutlastApiError } from "../client/client.js";
import { ConfigError } from "../config/load.js";
import { registerDev } from "./commands/dev.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerRuns } from "./commands/runs.js";
import { registerServe } from "./commands/serve.js";
import { registerSim } from "./commands/sim.js";
import { registerThreads } from "./commands/threads.js";
import { registerUsage } from "./commands/usage.js";
import { registerWorker } from "./commands/worker.js";
import { registerWorkers } from "./commands/workers.js";
import { CliError } from "./errors.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command("outlast")
  .description("Run AI agents as durable, quota-aware services")
  .version(pkg.version);
registerDev(program);
registerServe(program);
registerWorker(program);
registerMigrate(program);
registerKeys(program);
registerRuns(program);
registerSim(program);
registerThreads(program);
registerUsage(program);
registerWorkers(program);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CliError || err instanceof ConfigError) {
    process.stderr.write(`outlast: ${err.message}\n`);
  } else if (err instanceof OutlastApiError) {
    process.stderr.write(`outlast: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`outlast: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
}
