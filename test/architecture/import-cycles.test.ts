/**
 * The shape of the import graph (test/architecture/imports.ts reads it with the
 * TypeScript parser): no module of src/ imports itself through others, and quota admission
 * reads the gateway through its public module only (src/gateway/index.ts), not its files.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { importCycles, importGraph } from "./imports.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const graph = importGraph(SRC);

describe("imports under src/", () => {
  test("the graph was read (a wrong root would pass every check below)", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("gateway/gateway.ts")).toContain("gateway/pipeline.ts");
  });

  test("no import cycle, type-only imports included", () => {
    const cycles = importCycles(graph).map((c) => `${c.files.join(", ")}: ${c.path.join(" → ")}`);
    expect(cycles).toEqual([]);
  });

  test("src/quota imports the gateway only through src/gateway/index.ts", () => {
    const deep = [...graph]
      .filter(([file]) => file.startsWith("quota/"))
      .flatMap(([file, deps]) =>
        deps
          .filter((d) => d.startsWith("gateway/") && d !== "gateway/index.ts")
          .map((d) => `${file} → ${d}`),
      );
    expect(deep).toEqual([]);
  });
});
