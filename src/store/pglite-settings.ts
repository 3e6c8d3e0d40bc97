import { PGlite } from "@electric-sql/pglite";

/**
 * How PGlite's Postgres starts: its defaults plus smaller shared buffers. Postgres touches
 * all of its shared buffers at start, inside the WASM heap, so they are resident from the
 * first second: 128 MB by default. Measured opening an existing data folder on PGlite
 * 0.5.17: 318 MB resident with 128 MB, 207 MB with 64 MB, 167 MB with 32 MB, 160 MB with
 * 16 MB (bench/dev-memory.ts measures the whole `outlast dev`).
 *
 * 32 MB (4,096 pages) holds bench/core.ts's whole database (27 MB after its 10,000 runs):
 * pg_stat_io showed 0 evictions and the same reads and writes as with 128 MB. WAL buffers
 * default to 1/32 of shared buffers; they stay at the 4 MB they were, so WAL is written
 * out as often as before (1 MB wrote 3,504 times to 4 MB's 3,000 in that bench).
 */
export const PGLITE_START_PARAMS: readonly string[] = [
  ...PGlite.defaultStartParams,
  "-c",
  "shared_buffers=32MB",
  "-c",
  "wal_buffers=4MB",
];
