import type { Command } from "commander";
import { startSystem } from "../../system/start.js";
import { createLogger } from "../../util/log.js";
import { stopOnSignals } from "../lifecycle.js";
import { loadCliConfig } from "../load.js";
import { parseList, parsePositiveInt } from "../options.js";

export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("a worker that executes runs from the queues")
    .option("-c, --config <file>", "config file")
    .option("-q, --queues <a,b>", "queues to serve (default: every queue of the config)", parseList)
    .option("-n, --concurrency <n>", "runs executed at once", parsePositiveInt)
    .action(async (opts: { config?: string; queues?: string[]; concurrency?: number }) => {
      const log = createLogger();
      const config = await loadCliConfig(opts.config, false);
      const system = await startSystem({
        config,
        log,
        worker: { queues: opts.queues, concurrency: opts.concurrency },
      });
      stopOnSignals(system, log);
    });
}
