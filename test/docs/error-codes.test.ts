import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { API_ERROR_CODES } from "../../src/api/error-codes.js";
import { ROOT } from "../helpers/processes.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("error codes", () => {
  it("every code the source uses is documented in docs/errors.md", () => {
    const doc = readFileSync(join(ROOT, "docs/errors.md"), "utf8");
    const used = new Set<string>();
    for (const file of sourceFiles(join(ROOT, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/"(OUTLAST_[A-Z_]+)"/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(20);
    const missing = [...used].filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it("the HTTP API table in docs/errors.md has exactly the codes and statuses of API_ERROR_CODES", () => {
    const doc = readFileSync(join(ROOT, "docs/errors.md"), "utf8");
    const section = doc.slice(
      doc.indexOf("## HTTP API"),
      doc.indexOf("\n## ", doc.indexOf("## HTTP API") + 1),
    );
    const rows: Record<string, number> = {};
    for (const m of section.matchAll(/^\| `(OUTLAST_[A-Z_]+)` +\| (\d{3}) +\|/gm)) {
      rows[m[1]!] = Number(m[2]);
    }
    const table = Object.fromEntries(
      Object.entries(API_ERROR_CODES).map(([code, { status }]) => [code, status]),
    );
    expect(rows).toEqual(table);
  });
});
