import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Test fixtures import the package by name, as users do; they get the source.
  resolve: { alias: { outlast: fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    // The chaos suite restarts PostgreSQL, which would break every suite running beside
    // it; `npm test` runs it alone afterwards (vitest.chaos.config.ts).
    exclude: ["test/chaos/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start processes and databases; two cores cannot run many at once.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
