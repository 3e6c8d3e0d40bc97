import type { Command } from "commander";
import { startSystem } from "../../system/start.js";
import { createLogger } from "../../util/log.js";
import { CliError } from "../errors.js";
import { stopOnSignals } from "../lifecycle.js";
import { loadCliConfig } from "../load.js";
import { parsePort } from "../options.js";

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("the HTTP API against DATABASE_URL (run workers with `outlast worker`)")
    .option("-c, --config <file>", "config file", undefined)
    .option("-p, --port <port>", "port", parsePort)
    .option("--host <host>", "interface to listen on", undefined)
    .option("--no-auth", "serve without an API key (anyone who can reach the port can submit runs)")
    .action(async (opts: { config?: string; port?: number; host?: string; auth: boolean }) => {
      const log = createLogger();
      const config = await loadCliConfig(opts.config, false);
      const apiKey = config.api.apiKey;
      if (opts.auth && !apiKey) {
        throw new CliError(
          "OUTLAST_API_KEY is not set: `serve` requires every request to carry `Authorization: Bearer <key>`. Set OUTLAST_API_KEY (16+ characters) or pass --no-auth.",
        );
      }
      if (!opts.auth)
        log.warn(
          "serving WITHOUT authentication (--no-auth): anyone who can reach this port can submit runs",
        );
      const system = await startSystem({
        config,
        log,
        api: {
          port: opts.port ?? config.api.port,
          host: opts.host ?? config.api.host,
          apiKey: opts.auth ? apiKey : undefined,
          auth: opts.auth,
        },
      });
      stopOnSignals(system, log);
      log.info(`Outlast API listening at ${system.apiUrl}`);
    });
}
