import type { Command } from "commander";
import { OutlastClient, type WorkersOverview } from "../../client/client.js";

/**
 * `outlast workers`: who is executing runs (`GET /v1/workers`), and which queues nobody
 * serves, whose runs stay queued until a worker starts.
 *
 * @example
 * outlast workers --url http://127.0.0.1:7373
 */
export function registerWorkers(program: Command): void {
  program
    .command("workers")
    .description("live workers, their queues and slots; queues no worker serves")
    .option("--url <url>", "API URL (default OUTLAST_URL or http://127.0.0.1:7373)")
    .option("--api-key <key>", "API key (default OUTLAST_API_KEY)")
    .option("--json", "print the JSON answer")
    .action(async (o: { url?: string; apiKey?: string; json?: boolean }) => {
      const overview = await new OutlastClient({ url: o.url, apiKey: o.apiKey }).workers();
      process.stdout.write(
        o.json ? `${JSON.stringify(overview, null, 2)}\n` : formatWorkers(overview),
      );
    });
}

/** The table people read; exported for tests. */
export function formatWorkers(o: WorkersOverview, now = Date.now()): string {
  const lines: string[] = [];
  if (o.workers.length === 0) {
    lines.push(
      "no live worker: runs stay queued until one starts (`outlast worker`, or `outlast dev`)",
    );
  } else {
    const rows = o.workers.map((w) => [
      w.id,
      w.queues.join(","),
      w.slots.in_use === null ? "?" : String(w.slots.in_use),
      w.slots.free === null ? "?" : String(w.slots.free),
      `${Math.max(0, Math.round((now - Date.parse(w.last_heartbeat_at)) / 100) / 10)} s ago`,
    ]);
    const head = ["worker", "queues", "in use", "free", "last heartbeat"];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i >= 2 && i <= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd();
    lines.push(line(head), ...rows.map(line));
  }
  for (const q of o.queues.filter((q) => q.workers === 0)) {
    lines.push(`queue "${q.name}": no live worker serves it; its runs wait`);
  }
  return `${lines.join("\n")}\n`;
}
