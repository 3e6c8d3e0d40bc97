/** The machine and software the figures were measured on, taken at the start of a run. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { PG_ADMIN_URL } from "../../test/helpers/db.js";

export interface Machine {
  date: string;
  nproc: number;
  memory: string;
  cpu: string;
  kernel: string;
  node: string;
  postgres: string;
  redis: string;
  /** Redis's persistence settings: BullMQ's durability depends on them. */
  redisPersistence: string;
  loadAtStart: number[];
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export async function describeMachine(): Promise<Machine> {
  const loadAtStart = os.loadavg();
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {}
  let postgres = "unavailable";
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await c.connect();
    const r = await c.query<{ v: string; sc: string; fs: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fs",
    );
    const row = r.rows[0]!;
    postgres = `${row.v} (fsync=${row.fs}, synchronous_commit=${row.sc})`;
  } catch (err) {
    postgres = `unavailable: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
  let redis = "unavailable";
  let redisPersistence = "unknown";
  const r = new Redis({
    host: "127.0.0.1",
    port: 6379,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  try {
    await r.connect();
    redis = /redis_version:(\S+)/.exec(await r.info("server"))?.[1] ?? "unknown";
    const aof = (await r.config("GET", "appendonly")) as string[];
    const save = (await r.config("GET", "save")) as string[];
    redisPersistence = `appendonly ${aof[1] ?? "?"}, save "${save[1] ?? "?"}"`;
  } catch (err) {
    redis = `unavailable: ${(err as Error).message}`;
  } finally {
    r.disconnect();
  }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    nproc,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres,
    redis,
    redisPersistence,
    loadAtStart,
  };
}

/** The installed version of an npm package (Outlast: this repository's). */
export function packageVersion(pkg: string): string {
  const path =
    pkg === "outlast" ? `${ROOT}package.json` : `${ROOT}node_modules/${pkg}/package.json`;
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}
