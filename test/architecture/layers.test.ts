import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The folders of src, lowest first. A module may import from its own folder and from
 * folders below it, never from one above, for a value or for a type: the store does not
 * know the engine, the engine does not know the API. A new folder must be placed here.
 */
const LAYERS = [
  "types", // data shapes every layer shares; imports nothing
  "errors.ts", // error classes and codes
  "util",
  "tracing", // the Tracing interface; its OpenTelemetry implementation is loaded lazily
  "llm", // the model-call types ctx.llm and the gateway share
  "sim", // the simulated provider
  "store",
  "events",
  "auth", // credentials (keys, run tokens), their cache, the audit log
  "gateway",
  "quota",
  "engine",
  "integrations", // outlast/ai-sdk, outlast/openai-agents: SDKs on the journal (optional peers)
  "outbound", // outbound HTTP behind the SSRF guard
  "notify",
  "webhooks",
  "retention", // the pruner of old data
  "metrics", // GET /metrics: database aggregates and the engine's histograms
  "config",
  "client",
  "api",
  "system",
  "cli",
  "index.ts",
] as const;

const SRC = resolve(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** The folder (or top-level file) of src a path is in. */
function layerOf(path: string): string {
  return relative(SRC, path).split("/")[0] ?? "";
}

/** Every relative import of a file (imports, `export … from`, `import()`), as paths under src. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
}

const files = sourceFiles(SRC);

describe("layers", () => {
  it("places every folder of src", () => {
    const unplaced = [...new Set(files.map(layerOf))].filter(
      (l) => !(LAYERS as readonly string[]).includes(l),
    );
    expect(unplaced).toEqual([]);
  });

  it("imports only from the same folder or a lower one", () => {
    const rank = (l: string) => (LAYERS as readonly string[]).indexOf(l);
    const upward = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => rank(layerOf(target)) > rank(layerOf(file)))
        .map((target) => `${relative(SRC, file)} → ${relative(SRC, target)}`),
    );
    expect(upward).toEqual([]);
  });

  it("keeps src/types free of imports from outside it", () => {
    const typesDir = join(SRC, "types");
    const outside = files
      .filter((f) => layerOf(f) === "types")
      .flatMap((file) => {
        const specs = ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles;
        return specs
          .map((s) => s.fileName)
          .filter(
            (spec) => !spec.startsWith(".") || !resolve(dirname(file), spec).startsWith(typesDir),
          )
          .map((spec) => `${relative(SRC, file)} → ${spec}`);
      });
    expect(outside).toEqual([]);
  });

  it("loads the SDK integrations only through their own subpaths, never from outlast or the CLI", () => {
    // What `outlast` (src/index.ts) and `outlast/client` load, transitively: the optional
    // peers (`ai`, `@openai/agents`) must not be needed to import them.
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const target of importsOf(file)) visit(target);
    };
    for (const entry of ["index.ts", "client/index.ts", "cli/main.ts"]) visit(join(SRC, entry));
    expect([...seen].filter((f) => layerOf(f) === "integrations")).toEqual([]);
    const peers = [...seen].flatMap((file) =>
      ts
        .preProcessFile(readFileSync(file, "utf8"), true, true)
        .importedFiles.map((f) => f.fileName)
        .filter((spec) => /^(ai|@ai-sdk\/|@openai\/agents)/.test(spec))
        .map((spec) => `${relative(SRC, file)} → ${spec}`),
    );
    expect(peers).toEqual([]);
  });
});
