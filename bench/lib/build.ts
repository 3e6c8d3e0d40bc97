/**
 * Builds the package (dist/, `tsconfig.build.json`) from this tree, so a benchmark can run
 * `outlast` as it is installed — compiled, not under tsx. ~8 s here.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function buildPackage(opts: { quiet?: boolean } = {}): void {
  execFileSync(
    process.execPath,
    [`${ROOT}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"],
    { cwd: ROOT, stdio: opts.quiet ? "pipe" : "inherit" },
  );
}
