import { PGlite } from "@electric-sql/pglite";

/**
 * How PGlite's Postgres starts: its defaults plus smaller shared buffers. Postgres touches
 * all of its shared buffers at start, inside the WASM heap, so they are resident from the
 * first second: 128 MB by default. Measured opening an existing data folder on PGlite
 * 0.5.17: 318 MB resident with 128 MB, 207 MB with 64 MB, 167 MB with 32 MB, 160 MB with
 * 16 MB. 32 MB (4,096 pages) holds a dev database's hot rows; bench/core.ts's PGlite
 * figures were unchanged by it (see bench/dev-memory.ts for the whole process).
 */
export const PGLITE_START_PARAMS: readonly string[] = [
  ...PGlite.defaultStartParams,
  "-c",
  "shared_buffers=32MB",
];
