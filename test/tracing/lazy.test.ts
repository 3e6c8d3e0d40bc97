import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import {
  parseTraceparent,
  runTraceFor,
  startTracing,
  tracingWanted,
} from "../../src/tracing/index.js";

const SRC = resolve(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Static imports and `export … from` of a file (not `import()`). */
function staticImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  return source.statements.flatMap((s) =>
    (ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) &&
    s.moduleSpecifier &&
    ts.isStringLiteral(s.moduleSpecifier)
      ? [s.moduleSpecifier.text]
      : [],
  );
}

describe("tracing without an endpoint", () => {
  it("loads no OpenTelemetry module: only src/tracing/otel.ts imports the SDK, and only by import()", () => {
    const files = sourceFiles(SRC);
    const sdkImporters = files.filter((f) =>
      staticImports(f).some((spec) => spec.startsWith("@opentelemetry/")),
    );
    expect(sdkImporters.map((f) => relative(SRC, f))).toEqual(["tracing/otel.ts"]);
    const otelImporters = files.filter((f) =>
      staticImports(f).some((spec) => spec.endsWith("/otel.js") || spec === "./otel.js"),
    );
    expect(otelImporters.map((f) => relative(SRC, f))).toEqual([]);
    const index = readFileSync(join(SRC, "tracing/index.ts"), "utf8");
    expect(index).toContain('await import("./otel.js")');
  });

  it("starts only when an OTLP endpoint is set, and not when the SDK is disabled", async () => {
    expect(await startTracing({ env: {} })).toBeUndefined();
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(
      true,
    );
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }),
    ).toBe(false);
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }),
    ).toBe(false);
  });
});

describe("traceparent", () => {
  const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const span = "00f067aa0ba902b7";

  it("parses a valid header and ignores an invalid one, as W3C trace context says", () => {
    expect(parseTraceparent(`00-${trace}-${span}-01`)).toEqual({
      traceId: trace,
      spanId: span,
      sampled: true,
    });
    expect(parseTraceparent(`00-${trace}-${span}-00`)?.sampled).toBe(false);
    // A later version may add fields; version 00 may not.
    expect(parseTraceparent(`01-${trace}-${span}-01-extra`)?.traceId).toBe(trace);
    for (const bad of [
      "",
      `00-${trace}-${span}-01-extra`,
      `ff-${trace}-${span}-01`,
      `00-${"0".repeat(32)}-${span}-01`,
      `00-${trace}-${"0".repeat(16)}-01`,
      `00-${trace.toUpperCase()}-${span}-01`,
      `00-${trace}-${span}`,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it("gives a run the caller's trace, a new one when tracing, none when not sampled or not tracing", () => {
    const child = runTraceFor(`00-${trace}-${span}-01`, false);
    expect(child).toMatchObject({ traceId: trace, parentSpanId: span });
    expect(child?.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(runTraceFor(`00-${trace}-${span}-00`, true)).toBeUndefined();
    expect(runTraceFor(undefined, false)).toBeUndefined();
    expect(runTraceFor("garbage", false)).toBeUndefined();
    const fresh = runTraceFor("garbage", true);
    expect(fresh?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh?.parentSpanId).toBeNull();
  });
});
