import type { Command } from "commander";
import { startSystem } from "../../system/start.js";
import { createLogger } from "../../util/log.js";
import { stopOnSignals } from "../lifecycle.js";
import { loadCliConfig, withDevDefaults } from "../load.js";
import { parsePort } from "../options.js";

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "API, worker and simulated LLM provider in one process, on embedded PGlite unless DATABASE_URL is set",
    )
    .option(
      "-c, --config <file>",
      "config file (default ./outlast.config.ts, else the bundled examples)",
    )
    .option("-p, --port <port>", "port to listen on (127.0.0.1 only)", parsePort)
    .action(async (opts: { config?: string; port?: number }) => {
      const log = createLogger({ format: "pretty" });
      const config = withDevDefaults(await loadCliConfig(opts.config, true));
      const system = await startSystem({
        config,
        log,
        api: { port: opts.port ?? config.api.port, host: "127.0.0.1", apiKey: undefined },
        worker: {},
        simulator: true,
      });
      stopOnSignals(system, log);
      const store = config.database.url
        ? "PostgreSQL (DATABASE_URL)"
        : `PGlite in ${config.database.dataDir}`;
      const agent = config.agents.find((a) => a.name === "hello")
        ? "hello"
        : config.agents[0]?.name;
      const example =
        agent === "hello"
          ? '{"agent":"hello","input":{"name":"Ada"}}'
          : `{"agent":"${agent ?? "my-agent"}","input":{}}`;
      process.stdout.write(
        [
          `Outlast dev is running at ${system.apiUrl}`,
          `  store:    ${store}`,
          `  config:   ${config.source}`,
          `  agents:   ${config.agents.map((a) => a.name).join(", ") || "(none)"}`,
          ...(system.simulatorUrl
            ? [`  provider: simulated, at ${system.simulatorUrl} (fast, smart, embed)`]
            : []),
          `  docs:     ${system.apiUrl}/docs`,
          "",
          "Try it:",
          `  curl -s -X POST '${system.apiUrl}/v1/runs?wait=10' -H 'content-type: application/json' -d '${example}'`,
          "",
        ].join("\n"),
      );
    });
}
