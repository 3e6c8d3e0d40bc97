/**
 * Entry of the short-lived process that creates a PGlite data folder (see
 * pglite-initdb.ts): `node pglite-initdb-child.js <folder>`. Exits 0 once the folder holds
 * a database, 1 with the reason on stderr otherwise.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLITE_START_PARAMS } from "./pglite-settings.js";

const dataDir = process.argv[2];
try {
  if (!dataDir) throw new Error("usage: pglite-initdb-child <data folder>");
  const pg = await PGlite.create({ dataDir, startParams: [...PGLITE_START_PARAMS] });
  await pg.close();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
}
