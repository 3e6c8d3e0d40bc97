import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

/**
 * One process at a time may open a PGlite data folder: two would corrupt it. The lock is
 * a file holding the owner's pid, created with O_EXCL. A lock left by a dead process (a
 * SIGKILL leaves it behind) is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = `${dataDir.replace(/\/$/, "")}.lock`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw Object.assign(
          new Error(
            `another Outlast process (pid ${pid}) is using the embedded database in ${dataDir}; stop it, or set OUTLAST_DATA_DIR to another folder, or use PostgreSQL (DATABASE_URL) to run several processes`,
          ),
          { code: "OUTLAST_DATA_DIR_LOCKED" },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
