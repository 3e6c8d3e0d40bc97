import type { Db } from "../../src/store/db.js";

/** Empties the key and audit tables (the shared PGlite of a test file keeps them otherwise). */
export async function resetKeyTables(db: Db): Promise<void> {
  await db.exec(
    "TRUNCATE outlast.api_keys, outlast.audit_log; DELETE FROM outlast.projects WHERE name <> 'default'",
  );
}
