import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { API_ERROR_CODES } from "../../src/api/error-codes.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("API error codes", () => {
  it("lists every code the API and RunService can answer with", () => {
    const files = [...sources("src/api"), "src/engine/run-service.ts"].filter(
      (f) => !f.endsWith("error-codes.ts"),
    );
    const used = new Set<string>();
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(/"(OUTLAST_[A-Z_]+)"/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((c) => !(c in API_ERROR_CODES));
    expect(missing).toEqual([]);
  });

  it("gives each code a 4xx or 5xx status and a one-line meaning", () => {
    for (const [code, { status, meaning }] of Object.entries(API_ERROR_CODES)) {
      expect(code).toMatch(/^OUTLAST_[A-Z_]+$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
      expect(meaning).not.toContain("\n");
      expect(meaning.length).toBeGreaterThan(10);
    }
  });
});
