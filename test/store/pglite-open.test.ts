import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PgliteDb } from "../../src/store/pglite.js";
import { hasDatabase } from "../../src/store/pglite-initdb.js";

/** Command lines of this process's children that are alive now (Linux /proc). */
function childCommands(): string[] {
  const out: string[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push(readFileSync(`/proc/${d}/cmdline`, "utf8"));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("PGlite data folders", () => {
  const root = mkdtempSync(join(tmpdir(), "outlast-pglite-open-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("an empty folder gets its database from a child process, then reopens as it is", async () => {
    const dir = join(root, "data");
    expect(hasDatabase(dir)).toBe(false);
    let sawChild = false;
    const watcher = setInterval(() => {
      sawChild ||= childCommands().some((c) => c.includes("pglite-initdb-child"));
    }, 20);
    const db = await PgliteDb.open(dir).finally(() => clearInterval(watcher));
    try {
      // initdb ran in a child process, whose memory went with it.
      expect(sawChild).toBe(true);
      expect(hasDatabase(dir)).toBe(true);
      // The child's staging folder was renamed into place, not left beside it.
      expect(readdirSync(root).sort()).toEqual(["data", "data.lock"]);
      const [sb] = await db.query<{ shared_buffers: string }>("SHOW shared_buffers");
      expect(sb?.shared_buffers).toBe("32MB");
      await db.exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");
    } finally {
      await db.close();
    }
    const again = await PgliteDb.open(dir);
    try {
      expect(await again.query("SELECT v FROM kept")).toEqual([{ v: 7 }]);
    } finally {
      await again.close();
    }
    expect(existsSync(`${dir}.initdb`)).toBe(false);
  });
});
