/** Reading committed Markdown in tests: its links, and its fenced code blocks. */

export interface FencedBlock {
  /** The info string after the opening fence (`sh`, `ts`, …). */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The fenced code blocks (``` or ~~~) of a Markdown text, in order. */
export function fencedBlocks(text: string): FencedBlock[] {
  const out: FencedBlock[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(fence)) body.push(lines[j++]!);
    out.push({ lang: open[3] ?? "", body: body.join("\n"), line: i + 1 });
    i = j;
  }
  return out;
}

export interface MarkdownLink {
  target: string;
  line: number;
  /** How it was written: `[text](target)`, a reference definition, `<autolink>`, HTML, a code span. */
  form: "inline" | "reference" | "autolink" | "html" | "code";
}

/**
 * The link targets of a Markdown text outside fenced code: inline links and images,
 * reference definitions, autolinks, HTML `href`/`src`, and code spans that hold nothing
 * but a file path outside the tree's conventions (`/home/me/x.md`, `../x`, `file:…`,
 * `C:\x`), which read as a citation of that file. API paths such as `/v1/runs` are not
 * file paths and are left alone.
 */
export function markdownLinks(text: string): MarkdownLink[] {
  const out: MarkdownLink[] = [];
  const lines = text.split("\n");
  let fence: string | null = null;
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const f = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (fence) {
      if (f && raw.trim().startsWith(fence)) fence = null;
      continue;
    }
    if (f) {
      fence = f[1]!;
      continue;
    }
    const ref = /^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(raw);
    if (ref) out.push({ target: ref[1]!, line, form: "reference" });
    for (const m of raw.matchAll(/`([^`]+)`/g)) {
      const span = m[1]!.trim();
      if (
        /^(?:file:|~\/|\.\.\/|[A-Za-z]:\\|\/(?:home|Users|root|work|tmp|mnt|var|opt|srv|usr|etc)\/)\S*$/.test(
          span,
        )
      ) {
        out.push({ target: span, line, form: "code" });
      }
    }
    const prose = raw.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ target: m[1]!, line, form: "inline" });
    }
    for (const m of prose.matchAll(/<([a-z][a-z0-9+.-]*:[^\s>]*)>/gi)) {
      out.push({ target: m[1]!, line, form: "autolink" });
    }
    for (const m of prose.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)) {
      out.push({ target: m[1]!, line, form: "html" });
    }
  }
  return out;
}
