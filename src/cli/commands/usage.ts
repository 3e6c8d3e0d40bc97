import type { Command } from "commander";
import { CliError } from "../errors.js";

const GROUPS =
  "provider, model, requested, project, agent, run, step, feature, tenant, outcome, day, hour";

interface UsageResponse {
  group_by: string[];
  data: Record<string, string | number | null>[];
}

/**
 * `outlast usage`: the gateway's token and cost totals over HTTP (`GET /v1/usage`).
 *
 * @example
 * outlast usage --group-by model,feature --from 2026-01-01
 */
export function registerUsage(program: Command): void {
  program
    .command("usage")
    .description("LLM usage and cost through the gateway, grouped as asked")
    .option("--url <url>", "API URL (default OUTLAST_URL or http://127.0.0.1:7373)")
    .option("--api-key <key>", "API key (default OUTLAST_API_KEY)")
    .option("-g, --group-by <list>", `comma-separated: ${GROUPS}`)
    .option("--from <time>", "ISO 8601 instant or Unix seconds (default: 30 days ago)")
    .option("--to <time>", "ISO 8601 instant or Unix seconds (default: now)")
    .option("--json", "print the JSON answer")
    .action(
      async (o: {
        url?: string;
        apiKey?: string;
        groupBy?: string;
        from?: string;
        to?: string;
        json?: boolean;
      }) => {
        const base = (o.url ?? process.env.OUTLAST_URL ?? "http://127.0.0.1:7373").replace(
          /\/$/,
          "",
        );
        const key = o.apiKey ?? process.env.OUTLAST_API_KEY;
        const q = new URLSearchParams();
        if (o.groupBy) q.set("group_by", o.groupBy);
        if (o.from) q.set("from", o.from);
        if (o.to) q.set("to", o.to);
        let res: Response;
        try {
          res = await fetch(`${base}/v1/usage?${q}`, {
            headers: key ? { authorization: `Bearer ${key}` } : {},
          });
        } catch (err) {
          throw new CliError(`cannot reach Outlast at ${base}: ${(err as Error).message}`);
        }
        const text = await res.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new CliError(
            `unexpected response from ${base} (HTTP ${res.status}): ${text.slice(0, 200)}`,
          );
        }
        if (!res.ok) {
          const e = (body as { error?: { code?: string; message?: string } }).error;
          throw new CliError(
            `${e?.code ?? `HTTP ${res.status}`}: ${e?.message ?? text.slice(0, 200)}`,
          );
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
          return;
        }
        printTable(body as UsageResponse);
      },
    );
}

function printTable(u: UsageResponse): void {
  const cols = [
    ...u.group_by,
    "requests",
    "cache_hits",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_usd",
  ];
  const cell = (row: Record<string, unknown>, c: string) => {
    const v = row[c];
    if (c === "cost_usd" && typeof v === "number") return `$${v.toFixed(4)}`;
    return v === null || v === undefined ? "-" : String(v);
  };
  const rows = u.data.map((r) => cols.map((c) => cell(r, c)));
  const widths = cols.map((c, i) =>
    Math.max(c.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((v, i) => (i < u.group_by.length ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join("  ");
  process.stdout.write(`${line(cols)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  if (rows.length === 0) process.stdout.write("(no calls in this period)\n");
}
