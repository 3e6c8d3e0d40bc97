/**
 * Child-process side of a system adapter. Started by `Host.start` (bench/lib/hosts.ts)
 * as `node --import tsx bench/lib/host.ts <adapter module> <options json>`; it imports
 * the adapter, answers `{ id, op, args }` messages over IPC with `{ id, ok, result }` or
 * `{ id, ok: false, error }`, and reports an adapter that cannot even load (a missing
 * package, an unsupported Node version) as `{ ready: false, error }`.
 */
import type { AdapterFactory, Op, SystemAdapter } from "./types.js";

interface Request {
  id: number;
  op: Op | "close";
  args: unknown;
}

const send = (m: unknown): void => {
  process.send?.(m);
};

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : "";
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}

/**
 * After each round the runner drops the round's database WITH (FORCE), which terminates
 * every connection still open to it. graphile-worker's and PostgresSaver's own pools keep
 * idle connections nobody listens to for errors, so node-postgres turned that termination
 * (57P01, "terminating connection due to administrator command") into an uncaught
 * 'error' event and killed the adapter between rounds — the cause of the failed rounds of
 * both in the fresh-clone runs. The round it belongs to is over; anything else still
 * ends the process.
 */
process.on("uncaughtException", (err) => {
  if ((err as { code?: string }).code === "57P01") return;
  process.stderr.write(`${err.stack ?? String(err)}\n`);
  process.exit(1);
});

const [modulePath, optionsJson] = process.argv.slice(2);
let adapter: SystemAdapter;
try {
  const mod = (await import(modulePath!)) as { create: AdapterFactory };
  adapter = mod.create(JSON.parse(optionsJson ?? "{}") as Record<string, unknown>);
  send({ ready: true });
} catch (err) {
  send({ ready: false, error: describeError(err) });
  process.exit(1);
}

let closing: Promise<void> | undefined;
const closeOnce = (): Promise<void> => {
  closing ??= Promise.resolve(adapter.close?.());
  return closing;
};

process.on("message", (m: Request) => {
  void (async () => {
    try {
      if (m.op === "close") {
        await closeOnce();
        send({ id: m.id, ok: true, result: null });
        return;
      }
      const fn = adapter[m.op] as ((a: unknown) => Promise<unknown>) | undefined;
      if (!fn) throw new Error(`this adapter has no '${m.op}' operation`);
      const result = await fn.call(adapter, m.args);
      send({ id: m.id, ok: true, result });
    } catch (err) {
      send({ id: m.id, ok: false, error: describeError(err) });
    }
  })();
});
process.on("disconnect", () => {
  void closeOnce()
    .catch(() => {})
    .finally(() => process.exit(0));
});
