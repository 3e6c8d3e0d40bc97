/**
 * The public surface, as users get it: the packed tarball (`npm pack`) installed in a
 * scratch project. Every name the docs import from `outlast` or a subpath, and every error
 * class they name, resolves there — in TypeScript through the package's `exports` and
 * declarations, and at run time in Node; deep imports are refused.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/processes.js";

/** Committed Markdown and the shipped examples: where users read what to import. */
function docFiles(): string[] {
  const md = execFileSync("git", ["ls-files", "*.md", "examples"], { cwd: ROOT, encoding: "utf8" });
  return md.split("\n").filter((f) => /\.(md|ts)$/.test(f));
}

/** `{ specifier: names }` of every `import { … } from "outlast…"` in the docs. */
function documentedImports(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const re = /import\s+(?:type\s+)?\{([^}]+)\}\s+from\s+["'](outlast(?:\/[\w-]+)?)["']/g;
  for (const file of docFiles()) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(re)) {
      const names = out.get(m[2] as string) ?? new Set<string>();
      for (const raw of (m[1] as string).split(",")) {
        const name = raw
          .trim()
          .replace(/^type\s+/, "")
          .split(/\s+as\s+/)[0];
        if (name) names.add(name);
      }
      out.set(m[2] as string, names);
    }
  }
  return out;
}

/** Error classes the README and docs/ name in backticks: users catch them by name. */
function documentedErrorClasses(): Set<string> {
  const out = new Set<string>();
  for (const file of docFiles().filter((f) => f.endsWith(".md"))) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(/`([A-Z][A-Za-z]*Error)`/g)) out.add(m[1] as string);
  }
  return out;
}

/** Where an error class is exported: the client's and the SDK integrations' live with them. */
const errorHome = (name: string) =>
  name === "OutlastApiError"
    ? "outlast/client"
    : name === "GatewayHttpError"
      ? "outlast/ai-sdk"
      : "outlast";

/** The optional peer dependencies the SDK subpaths are tested with (package.json pins them). */
const PEERS = ["ai@6.0.326", "@openai/agents@0.14.3"];

describe("the packed package", () => {
  let dir: string;
  /** What `import("outlast")` gave before the optional peers were installed. */
  let bare: Record<string, unknown> = {};
  const imports = documentedImports();
  for (const name of documentedErrorClasses()) {
    const home = errorHome(name);
    imports.set(home, (imports.get(home) ?? new Set()).add(name));
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "outlast-pack-"));
    // Packed from a staging copy built from src, so the test neither packs a stale dist
    // nor rewrites the repository's own while other suites use it.
    const stage = join(dir, "stage");
    execFileSync("mkdir", ["-p", stage]);
    for (const f of ["package.json", "README.md", "migrations"])
      execFileSync("cp", ["-r", join(ROOT, f), stage]);
    execFileSync(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        "tsconfig.build.json",
        "--outDir",
        join(stage, "dist"),
      ],
      { cwd: ROOT },
    );
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
        cwd: stage,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }),
    ) as { filename: string }[];
    const tarball = join(dir, packed[0]?.filename as string);
    const app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "scratch", private: true, type: "module" }),
    );
    // The npm cache holds every dependency already (this repository's install).
    const install = (...pkgs: string[]) =>
      execFileSync(
        "npm",
        ["install", ...pkgs, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
        { cwd: app, stdio: "ignore" },
      );
    install(tarball);
    // Without the optional peers (npm installs none of them): outlast loads all the same.
    writeFileSync(
      join(app, "bare.mjs"),
      `import { existsSync } from "node:fs";
const mod = await import("outlast");
console.log(JSON.stringify({
  defineAgent: typeof mod.defineAgent,
  peers: ${JSON.stringify(PEERS.map((p) => p.replace(/@[^@]*$/, "")))}.filter((p) => existsSync("node_modules/" + p)),
}));`,
    );
    bare = JSON.parse(execFileSync(process.execPath, ["bare.mjs"], { cwd: app, encoding: "utf8" }));
    install(...PEERS);
  }, 240_000);

  it("outlast loads without the SDKs it integrates, which npm does not install", () => {
    expect(bare).toEqual({ defineAgent: "function", peers: [] });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the docs import from outlast and its subpaths, and name the errors to catch", () => {
    expect([...imports.keys()].sort()).toEqual([
      "outlast",
      "outlast/ai-sdk",
      "outlast/client",
      "outlast/openai-agents",
    ]);
    expect([...(imports.get("outlast/ai-sdk") ?? [])]).toEqual(
      expect.arrayContaining(["outlast", "durableTools", "GatewayHttpError"]),
    );
    expect([...(imports.get("outlast/openai-agents") ?? [])]).toContain("durableAgent");
    expect([...(imports.get("outlast") ?? [])]).toEqual(
      expect.arrayContaining([
        "defineAgent",
        "defineConfig",
        "TerminalError",
        "SignalTimeoutError",
        "ChildRunFailedError",
      ]),
    );
    expect([...(imports.get("outlast/client") ?? [])]).toContain("OutlastClient");
  });

  it("every documented name type-checks from the installed package", () => {
    const app = join(dir, "app");
    const lines = [...imports].map(
      ([spec, names]) => `export type { ${[...names].join(", ")} } from "${spec}";`,
    );
    writeFileSync(join(app, "check.ts"), `${lines.join("\n")}\n`);
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        files: ["check.ts"],
      }),
    );
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", "."], { cwd: app, encoding: "utf8" });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe("");
  }, 60_000);

  it("classes and functions load in Node; deep imports are refused", () => {
    const app = join(dir, "app");
    const values = [...imports].map(([spec, names]) => [
      spec,
      // Every name of the SDK subpaths is a function or a class.
      [...names].filter(
        (n) =>
          spec.endsWith("-sdk") || spec.endsWith("-agents") || /Error$|Client$|^define/.test(n),
      ),
    ]);
    writeFileSync(
      join(app, "check.mjs"),
      `const out = {};
for (const [spec, names] of ${JSON.stringify(values)}) {
  const mod = await import(spec);
  for (const n of names) out[spec + ":" + n] = typeof mod[n];
}
try { await import("outlast/dist/engine/worker.js"); out.deep = "loaded"; }
catch (err) { out.deep = err.code; }
console.log(JSON.stringify(out));`,
    );
    const out = JSON.parse(
      execFileSync(process.execPath, ["check.mjs"], { cwd: app, encoding: "utf8" }),
    ) as Record<string, string>;
    const { deep, ...loaded } = out;
    expect(Object.keys(loaded).length).toBeGreaterThanOrEqual(12);
    expect(loaded).toMatchObject({
      "outlast/ai-sdk:outlast": "function",
      "outlast/openai-agents:durableAgent": "function",
    });
    for (const [name, type] of Object.entries(loaded))
      expect([name, type]).toEqual([name, "function"]);
    expect(deep).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });
});
