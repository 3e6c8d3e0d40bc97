import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { markdownLinks } from "../helpers/markdown.js";
import { ROOT } from "../helpers/processes.js";

const tracked = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter(Boolean);

/**
 * Why a link leaves the repository, or null when it stays inside (or goes to a public
 * site over http(s), or is an in-page anchor or a mailto).
 */
function leavesRepo(file: string, target: string): string | null {
  if (/^https?:\/\//i.test(target) || /^mailto:/i.test(target) || target.startsWith("#")) {
    return null;
  }
  if (/^file:/i.test(target)) return "a file:// link";
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) && !/^[A-Za-z]:\\/.test(target)) {
    return `a ${target.split(":")[0]}: link`;
  }
  if (target.startsWith("~") || isAbsolute(target) || /^[A-Za-z]:\\/.test(target)) {
    return "an absolute path on some machine";
  }
  const path = decodeURI(target.replace(/[#?].*$/, ""));
  const inRepo = relative(ROOT, resolve(ROOT, dirname(file), path));
  if (inRepo.startsWith("..") || isAbsolute(inRepo)) return "a path outside the repository";
  if (!existsSync(join(ROOT, inRepo))) return "a path that does not exist in the repository";
  return null;
}

describe("links in committed Markdown", () => {
  it("every link stays in the repository (or goes to a public site)", () => {
    const md = tracked.filter((f) => f.endsWith(".md"));
    expect(md).toContain("README.md");
    const bad: string[] = [];
    let links = 0;
    for (const file of md) {
      for (const l of markdownLinks(readFileSync(join(ROOT, file), "utf8"))) {
        links++;
        const why = leavesRepo(file, l.target);
        if (why) bad.push(`${file}:${l.line}: ${l.target} (${l.form}) is ${why}`);
      }
    }
    expect(links).toBeGreaterThan(5);
    expect(bad).toEqual([]);
  });

  it("catches each way of leaving", () => {
    const doc = [
      "See [the design](../shared/DESIGN.md) and [deep](docs/../../x.md).",
      "[abs](/work/shared/PROVIDERS.md), ![img](file:///tmp/a.png), <file:///etc/hosts>",
      "[ref]: ~/notes.md",
      'Cited in `/home/me/src/x.md`; <a href="C:\\Users\\me\\x.md">x</a>',
      "Fine: [errors](docs/errors.md), [site](https://www.standardwebhooks.com), `/v1/runs`",
      "```sh",
      "cat ../shared/DESIGN.md   # code, not a link",
      "```",
    ].join("\n");
    const verdicts = markdownLinks(doc).map((l) => [l.target, leavesRepo("README.md", l.target)]);
    expect(verdicts.filter(([, why]) => why !== null).map(([t]) => t)).toEqual([
      "../shared/DESIGN.md",
      "docs/../../x.md",
      "/work/shared/PROVIDERS.md",
      "file:///tmp/a.png",
      "file:///etc/hosts",
      "~/notes.md",
      "/home/me/src/x.md",
      "C:\\Users\\me\\x.md",
    ]);
    expect(verdicts.filter(([, why]) => why === null).map(([t]) => t)).toEqual([
      "docs/errors.md",
      "https://www.standardwebhooks.com",
    ]);
  });
});
