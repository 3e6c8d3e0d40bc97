import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  // Test fixtures import the package by name, as users do; they get the source.
  // (Most specific first: an alias also matches the paths under it.)
  resolve: {
    alias: [
      { find: "outlast/ai-sdk", replacement: src("integrations/ai-sdk/index.ts") },
      { find: "outlast/openai-agents", replacement: src("integrations/openai-agents/index.ts") },
      { find: /^outlast$/, replacement: src("index.ts") },
    ],
  },
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
