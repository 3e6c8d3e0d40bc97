import { execFile } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The child's entry beside this file: .ts under tsx (source), .js in dist/. */
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const CHILD = fileURLToPath(
  new URL(`./pglite-initdb-child.${FROM_SOURCE ? "ts" : "js"}`, import.meta.url),
);

/** Whether a data folder already holds a database (PGlite's own test). */
export function hasDatabase(dataDir: string): boolean {
  return existsSync(`${dataDir}/PG_VERSION`);
}

/**
 * Creates the database of an empty PGlite data folder in a short-lived child process.
 *
 * Why: PGlite runs initdb in a second, temporary PGlite inside the process that asked,
 * and the memory it grows there stays resident: a first `outlast dev` in an empty folder
 * held 819–855 MB, against ~410 MB for the same process opening the folder once made
 * (bench/dev-memory.ts). In a child, all of it goes when the child exits, and the parent
 * then opens an existing folder like any restart.
 *
 * The child writes to a sibling folder that is renamed into place when complete, so a
 * process killed half way leaves no half-made database behind to be mistaken for one.
 * The caller holds the data folder's lock (dir-lock.ts).
 */
export async function initDataDirInChild(dataDir: string): Promise<void> {
  const staging = `${dataDir.replace(/\/$/, "")}.initdb`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await run(process.execPath, [...(FROM_SOURCE ? ["--import", "tsx"] : []), CHILD, staging], {
      maxBuffer: 1024 * 1024,
    });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(
      `could not create the embedded database in ${dataDir}: ${stderr || (err as Error).message}`,
    );
  }
  if (existsSync(dataDir) && readdirSync(dataDir).length === 0)
    rmSync(dataDir, { recursive: true });
  renameSync(staging, dataDir);
}
