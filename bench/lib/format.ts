/** Number formatting for the report. */

export function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return "—";
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Milliseconds with sensible precision. */
export function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "—";
  if (x >= 100_000) return `${num(x / 1000, 0)} s`;
  if (x >= 10_000) return `${num(x / 1000, 1)} s`;
  if (x >= 100) return `${num(x, 0)} ms`;
  if (x >= 10) return `${num(x, 1)} ms`;
  return `${num(x, 2)} ms`;
}

/**
 * How Outlast compares, from its advantage factor (> 1: Outlast better): "2.31× faster",
 * or "**3.10× slower**" — bold, so a reader cannot miss where Outlast is behind.
 */
export function versus(advantage: number | undefined, better: string, worse: string): string {
  if (advantage === undefined || !Number.isFinite(advantage) || advantage <= 0) return "—";
  if (advantage >= 1) return `${num(advantage, 2)}× ${better}`;
  return `**${num(1 / advantage, 2)}× ${worse}**`;
}

export function range(xs: number[], f: (x: number) => string): string {
  if (xs.length < 2) return "";
  return `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
}

/** A markdown table. */
export function table(head: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `| ${head.map(esc).join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}
