import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Test fixtures import the package by name, as users do; they get the source.
  resolve: { alias: { outlast: fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/chaos/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
