import type { Command } from "commander";
import { openStore } from "../../store/open.js";
import { loadCliConfig } from "../load.js";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("bring the database schema up to date (every command also does this at start)")
    .option("-c, --config <file>", "config file")
    .action(async (opts: { config?: string }) => {
      const config = await loadCliConfig(opts.config, true);
      const db = await openStore({
        databaseUrl: config.database.url,
        dataDir: config.database.dataDir,
        migrate: false,
      });
      try {
        const { migrate } = await import("../../store/migrate.js");
        const applied = await migrate(db);
        process.stdout.write(
          applied.length ? `applied: ${applied.join(", ")}\n` : "schema is up to date\n",
        );
      } finally {
        await db.close();
      }
    });
}
