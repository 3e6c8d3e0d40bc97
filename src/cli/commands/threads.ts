import type { Command } from "commander";
import { OutlastClient } from "../../client/client.js";
import { CliError } from "../errors.js";

interface Conn {
  url?: string;
  apiKey?: string;
}

const enc = encodeURIComponent;

function client(o: Conn): OutlastClient {
  return new OutlastClient({ url: o.url, apiKey: o.apiKey });
}

function print(value: unknown): void {
  if (value !== undefined) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `k=v` pairs → an object (values parsed as JSON when they are, else strings). */
function pairs(list: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of list) {
    const i = p.indexOf("=");
    if (i <= 0) throw new CliError(`expected key=value, got "${p}"`);
    const raw = p.slice(i + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {}
    out[p.slice(0, i)] = v;
  }
  return out;
}

/**
 * `outlast threads …`: create, show, list, update, delete, and read a thread's messages,
 * state and history, or fork it — over the HTTP API, printing its JSON.
 *
 * @example
 * outlast threads create support-42 --meta user=ada
 * outlast threads messages support-42 --limit 20
 */
export function registerThreads(program: Command): void {
  const threads = program
    .command("threads")
    .description("threads: sessions that run one run at a time and keep a transcript")
    .option("--url <url>", "API URL (default OUTLAST_URL or http://127.0.0.1:7373)")
    .option("--api-key <key>", "API key (default OUTLAST_API_KEY)");
  const conn = (): Conn => threads.opts<Conn>();

  threads
    .command("create [id]")
    .description("create a thread (default id: a UUIDv7)")
    .option("--meta <k=v...>", "metadata")
    .action(async (id: string | undefined, o: { meta?: string[] }) => {
      print(
        await client(conn()).threads("POST", "", {
          ...(id ? { id } : {}),
          metadata: pairs(o.meta),
        }),
      );
    });
  threads
    .command("get <id>")
    .description("a thread: status (idle/busy), version, message count")
    .action(async (id: string) => print(await client(conn()).threads("GET", `/${enc(id)}`)));
  threads
    .command("list")
    .description("threads in id order")
    .option("--meta <k=v...>", "only threads whose metadata has these values")
    .option("--limit <n>", "page size (1-200)")
    .option("--cursor <id>", "next_cursor of the previous page")
    .action(async (o: { meta?: string[]; limit?: string; cursor?: string }) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(pairs(o.meta))) q.set(`metadata[${k}]`, String(v));
      if (o.limit) q.set("limit", o.limit);
      if (o.cursor) q.set("cursor", o.cursor);
      print(await client(conn()).threads("GET", `?${q}`));
    });
  threads
    .command("update <id>")
    .description("merge metadata (k=null removes k)")
    .requiredOption("--meta <k=v...>", "metadata")
    .action(async (id: string, o: { meta: string[] }) => {
      print(await client(conn()).threads("PATCH", `/${enc(id)}`, { metadata: pairs(o.meta) }));
    });
  threads
    .command("delete <id>")
    .description("delete an idle thread, its messages and versions (its runs stay)")
    .action(async (id: string) => {
      await client(conn()).threads("DELETE", `/${enc(id)}`);
      process.stdout.write(`deleted thread ${id}\n`);
    });
  for (const [name, what] of [
    ["messages", "the transcript, oldest first"],
    ["history", "versions, newest first, and the run that made each"],
  ] as const) {
    threads
      .command(`${name} <id>`)
      .description(what)
      .option("--limit <n>", "page size (1-200)")
      .option("--cursor <n>", "next_cursor of the previous page")
      .action(async (id: string, o: { limit?: string; cursor?: string }) => {
        const q = new URLSearchParams();
        if (o.limit) q.set("limit", o.limit);
        if (o.cursor) q.set("cursor", o.cursor);
        print(await client(conn()).threads("GET", `/${enc(id)}/${name}?${q}`));
      });
  }
  threads
    .command("state <id>")
    .description("the state document (at --version)")
    .option("--version <n>", "an older version")
    .action(async (id: string, o: { version?: string }) => {
      const q = o.version ? `?version=${enc(o.version)}` : "";
      print(await client(conn()).threads("GET", `/${enc(id)}/state${q}`));
    });
  threads
    .command("fork <id>")
    .description("a new thread with this one's transcript and state at --version")
    .option("--version <n>", "default: the current version")
    .option("--as <newId>", "the new thread's id")
    .action(async (id: string, o: { version?: string; as?: string }) => {
      print(
        await client(conn()).threads("POST", `/${enc(id)}/fork`, {
          ...(o.version ? { version: Number(o.version) } : {}),
          ...(o.as ? { id: o.as } : {}),
        }),
      );
    });
}
