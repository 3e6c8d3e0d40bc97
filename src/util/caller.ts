import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);

/**
 * The source file of the first stack frame outside this module and `self` — the module
 * that called a function of ours. Loaders (tsx, jiti, vitest) keep the original path in
 * stack frames, so this names the user's file whatever transpiled it.
 */
export function callerFile(self: string): string | undefined {
  const stack = new Error().stack?.split("\n").slice(1) ?? [];
  for (const line of stack) {
    // A query string (a module loaded as `file.ts?v=2` to bust a cache) is not part of the path.
    const m = /\(?((?:file:\/\/)?\/[^():?]+)(?:\?[^():]*)?:\d+:\d+\)?\s*$/.exec(line);
    if (!m?.[1]) continue;
    const file = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
    if (file === SELF || file === self) continue; // bd594cb skipped only `self`
    if (file.includes("/node_modules/") || file.startsWith("node:")) continue;
    return file;
  }
  return undefined;
}
