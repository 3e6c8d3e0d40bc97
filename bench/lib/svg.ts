/**
 * A small horizontal bar chart as SVG (no dependency: the charts are a few bars each).
 * Outlast's bars are drawn in a different colour; whiskers show the range of the rounds.
 */
export interface Bar {
  label: string;
  value: number;
  /** Lowest and highest round, drawn as a whisker. */
  min?: number;
  max?: number;
  highlight?: boolean;
  /** Text after the bar; default the value. */
  note?: string;
  /** A configured value, not a measurement: drawn hollow and dashed. */
  notMeasured?: boolean;
}

export interface Chart {
  title: string;
  unit: string;
  bars: Bar[];
  /** "lower is better" or "higher is better", printed under the title. */
  direction: string;
  log?: boolean;
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function barChart(c: Chart): string {
  const bars = c.bars.filter((b) => Number.isFinite(b.value) && b.value > 0);
  const labelW = 300;
  const plotW = 380;
  const noteW = 200;
  const rowH = 26;
  const top = 52;
  const width = labelW + plotW + noteW;
  const height = top + rowH * Math.max(bars.length, 1) + 16;
  const hi = Math.max(...bars.map((b) => Math.max(b.value, b.max ?? 0)), 1e-9);
  const lo = Math.min(...bars.map((b) => Math.min(b.value, b.min ?? b.value)));
  const floor = c.log ? 10 ** Math.floor(Math.log10(Math.max(lo, 1e-9)) - 0.3) : 0;
  const x = (v: number): number => {
    if (!c.log) return (v / hi) * plotW;
    const a = Math.log10(floor);
    const b = Math.log10(hi);
    return ((Math.log10(Math.max(v, floor)) - a) / (b - a || 1)) * plotW;
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${xmlEscape(`${c.title} (${c.unit}, ${c.direction})`)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="600" fill="#111">${xmlEscape(c.title)}</text>`,
    `<text x="10" y="38" fill="#555">${xmlEscape(`${c.unit} — ${c.direction}${c.log ? " (log scale)" : ""}; whiskers: range of rounds`)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(b.value));
    const fill = b.notMeasured ? "#ffffff" : b.highlight ? "#2563eb" : "#9ca3af";
    const stroke = b.notMeasured ? ` stroke="#6b7280" stroke-dasharray="4 3"` : "";
    out.push(
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" fill="#111">${xmlEscape(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${fill}"${stroke} rx="2"/>`,
    );
    if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
      const y0 = y + rowH / 2 - 1;
      const x0 = labelW + x(b.min);
      const x1 = labelW + x(b.max);
      out.push(
        `<line x1="${x0.toFixed(1)}" y1="${y0}" x2="${x1.toFixed(1)}" y2="${y0}" stroke="#111" stroke-width="1"/>`,
        `<line x1="${x0.toFixed(1)}" y1="${y0 - 4}" x2="${x0.toFixed(1)}" y2="${y0 + 4}" stroke="#111"/>`,
        `<line x1="${x1.toFixed(1)}" y1="${y0 - 4}" x2="${x1.toFixed(1)}" y2="${y0 + 4}" stroke="#111"/>`,
      );
    }
    const end = labelW + Math.max(w, b.max !== undefined ? x(b.max) : 0) + 6;
    out.push(
      `<text x="${end.toFixed(1)}" y="${y + 15}" fill="#111">${xmlEscape(b.note ?? String(b.value))}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
