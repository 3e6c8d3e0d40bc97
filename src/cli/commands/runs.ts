import type { Command } from "commander";
import { OutlastClient, type RunResource } from "../../client/client.js";
import { CliError } from "../errors.js";
import { parsePositiveInt } from "../options.js";
import { describeEvent, describeRun, holdHint, LiveLine } from "./run-status.js";

export { describeEvent } from "./run-status.js";

function client(opts: { url?: string; apiKey?: string }): OutlastClient {
  return new OutlastClient({ url: opts.url, apiKey: opts.apiKey });
}

function parseJsonOption(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${flag} is not valid JSON: ${(err as Error).message}`);
  }
}

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** Kinds of hold no event announces: they depend on the moment (src/engine/waiting-for.ts). */
const SILENT_HOLDS = new Set(["no_worker", "scheduled"]);

/**
 * Follows a run's event stream (SSE, resumed across dropped connections) until it is final,
 * writing each event on stderr, with a live status line on a terminal; returns the final
 * run. A run that sits without events (no worker serves its queue) is looked at every few
 * seconds, and why it sits is printed when that changes.
 */
async function follow(c: OutlastClient, id: string, after = 0): Promise<RunResource> {
  const live = new LiveLine();
  let printed = "";
  const look = async () => {
    const run = await c.get(id);
    const line = describeRun(run);
    live.set(line);
    if (run.waiting_for && SILENT_HOLDS.has(run.waiting_for.kind) && line !== printed) {
      printed = line;
      live.log(`${new Date().toISOString().slice(11, 23)} ${line}`);
    }
  };
  const poll = setInterval(() => look().catch(() => {}), 3_000).unref();
  try {
    await look();
    for await (const ev of c.events(id, { after })) {
      printed = describeEvent(ev);
      live.log(printed);
      if (ev.type === "run.progress") live.set(`running — ${JSON.stringify(ev.data.progress)}`);
      else if (ev.type.startsWith("run.")) live.set(printed.replace(/^\S+ #\d+ /, ""));
    }
  } finally {
    clearInterval(poll);
    live.stop();
  }
  return c.get(id);
}

export function registerRuns(program: Command): void {
  const runs = program
    .command("runs")
    .description("submit, inspect and cancel runs over the HTTP API")
    .option("--url <url>", "API URL (default OUTLAST_URL or http://127.0.0.1:7373)")
    .option("--api-key <key>", "API key (default OUTLAST_API_KEY)");

  runs
    .command("submit <agent>")
    .description("submit a run")
    .option("-i, --input <json>", "input as JSON", "{}")
    .option("-w, --wait", "show the run's events live until it finishes, then print it")
    .option("-q, --quiet", "print only the run's id (for scripts: run=$(outlast runs submit …))")
    .option("--queue <name>")
    .option("--priority <n>", "higher runs first", Number)
    .option("--idempotency-key <key>")
    .option("--thread <id>", "thread id")
    .action(
      async (
        agent: string,
        o: {
          input: string;
          wait?: boolean;
          quiet?: boolean;
          queue?: string;
          priority?: number;
          idempotencyKey?: string;
          thread?: string;
        },
      ) => {
        let input: unknown;
        try {
          input = JSON.parse(o.input);
        } catch (err) {
          throw new CliError(`--input is not valid JSON: ${(err as Error).message}`);
        }
        const c = client(runs.opts());
        const run = await c.submit({
          agent,
          input,
          ...(o.queue ? { queue: o.queue } : {}),
          ...(o.priority !== undefined ? { priority: o.priority } : {}),
          ...(o.idempotencyKey ? { idempotency_key: o.idempotencyKey } : {}),
          ...(o.thread ? { thread_id: o.thread } : {}),
        });
        const final = o.wait ? await follow(c, run.id) : run;
        if (o.quiet) process.stdout.write(`${final.id}\n`);
        else print(final);
        if (o.wait && final.status !== "succeeded") process.exitCode = 1;
      },
    );

  runs
    .command("get <id>")
    .description("show a run")
    .option("--steps", "include the step journal")
    .action(async (id: string, o: { steps?: boolean }) => {
      const c = client(runs.opts());
      const run = await c.get(id);
      print(o.steps ? { ...run, steps: (await c.steps(id)).steps } : run);
      // stdout stays JSON for scripts; why a held run waits goes to people on stderr.
      if (run.waiting_for) process.stderr.write(`${describeRun(run)}\n`);
    });

  runs
    .command("list")
    .description("list runs, newest first")
    .option("--status <status>")
    .option("--agent <name>")
    .option("--thread <id>")
    .option("--limit <n>", "page size", parsePositiveInt, 20)
    .option("--cursor <cursor>", "next_cursor of the previous page")
    .action(
      async (o: {
        status?: string;
        agent?: string;
        thread?: string;
        limit: number;
        cursor?: string;
      }) => {
        const page = await client(runs.opts()).list({
          ...(o.status ? { status: o.status } : {}),
          ...(o.agent ? { agent: o.agent } : {}),
          ...(o.thread ? { thread_id: o.thread } : {}),
          ...(o.cursor ? { cursor: o.cursor } : {}),
          limit: o.limit,
        });
        const now = Date.now();
        for (const r of page.runs) {
          const why = r.waiting_for ? `  ${holdHint(r.id, r.waiting_for, now)}` : "";
          process.stdout.write(
            `${r.id}  ${r.status.padEnd(10)} ${r.agent.padEnd(16)} ${r.created_at}${why}\n`,
          );
        }
        if (page.next_cursor) process.stdout.write(`more: --cursor ${page.next_cursor}\n`);
      },
    );

  runs
    .command("watch <id>")
    .description("show a run's events live until it ends, then print it")
    .option("--after <n>", "start after this event number", parsePositiveInt)
    .action(async (id: string, o: { after?: number }) => {
      const final = await follow(client(runs.opts()), id, o.after ?? 0);
      print(final);
      if (final.status !== "succeeded") process.exitCode = 1;
    });

  runs
    .command("cancel <id>")
    .description("cancel a run")
    .action(async (id: string) => print(await client(runs.opts()).cancel(id)));

  runs
    .command("signal <id> <name>")
    .description("send a signal to a run waiting in ctx.waitForSignal(name)")
    .option("-p, --payload <json>", "payload as JSON", "null")
    .action(async (id: string, name: string, o: { payload: string }) => {
      print(await client(runs.opts()).signal(id, name, parseJsonOption("--payload", o.payload)));
    });

  runs
    .command("resume <id>")
    .description("requeue a failed run; completed steps are not repeated")
    .action(async (id: string) => print(await client(runs.opts()).resume(id)));
}
