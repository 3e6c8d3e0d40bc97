import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROUTE_ROLES, RUN_TOKEN_ROUTES } from "../../src/api/route-roles.js";
import { ROOT } from "../helpers/processes.js";

/** docs/security.md's route table is the one the server enforces, row for row. */
describe("docs/security.md", () => {
  const doc = readFileSync(join(ROOT, "docs/security.md"), "utf8");

  it("lists every route with the role and run-token reach of src/api/route-roles.ts", () => {
    const section = doc.slice(
      doc.indexOf("<!-- route-roles:start -->"),
      doc.indexOf("<!-- route-roles:end -->"),
    );
    const rows: Record<string, string> = {};
    const reach: Record<string, string> = {};
    for (const m of section.matchAll(/^\| `([A-Z]+ [^`]+)` +\| (\w+) +\| ([^|]+) \|$/gm)) {
      rows[m[1]!] = m[2]!;
      const t = m[3]!.trim();
      if (t !== "no") reach[m[1]!] = t.startsWith("its own run") ? "own_run" : "gateway";
    }
    expect(rows).toEqual(ROUTE_ROLES);
    expect(reach).toEqual(RUN_TOKEN_ROUTES);
  });

  it("is linked from the README", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("(docs/security.md)");
  });
});
