/**
 * How the CLI tells people what a run is doing: one line per event, why a held run waits
 * and what to do about it, and a live status line while following a run on a terminal.
 */

import type { RunEvent, RunResource } from "../../client/client.js";
import type { WaitingFor } from "../../types/index.js";

/** "in 12 s", "in 3 min", or "now" for a time that has passed. */
export function fromNow(iso: string | null | undefined, now = Date.now()): string | undefined {
  if (!iso) return undefined;
  const ms = new Date(iso).getTime() - now;
  if (!Number.isFinite(ms)) return undefined;
  if (ms <= 500) return "now";
  if (ms < 90_000) return `in ${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return `in ${Math.round(ms / 60_000)} min`;
  return `at ${iso}`;
}

/**
 * Why a held run waits, and what a person can do about it: the command that ends a wait
 * for a signal, the worker to start, when a throttled run expects to go on.
 *
 * @example
 * ```ts
 * holdHint(run.id, run.waiting_for); // 'waiting for signal "approval" — outlast runs signal <id> approval --payload '{}''
 * ```
 */
export function holdHint(runId: string, w: WaitingFor, now = Date.now()): string {
  switch (w.kind) {
    case "signal": {
      const signal = w.signals[0] ?? w.waits.find((x) => x.kind === "signal")?.name ?? "NAME";
      return `${w.reason} — outlast runs signal ${runId} ${signal} --payload '{}'`;
    }
    case "child": {
      const child = w.waits.find((x) => x.kind === "child")?.childId;
      return child ? `${w.reason} — outlast runs watch ${child}` : w.reason;
    }
    case "sleep":
      return `${w.reason} (wakes ${fromNow(w.until, now) ?? "by itself"})`;
    case "provider_limit":
    case "cap":
    case "retry": {
      const when = fromNow(w.eta ?? w.until, now);
      return when ? `${w.reason} — goes on ${when}` : w.reason;
    }
    default:
      return w.reason;
  }
}

/** One line per event, for people watching a run. */
export function describeEvent(ev: RunEvent): string {
  const d = ev.data as Record<string, unknown>;
  const time = ev.at.slice(11, 23);
  switch (ev.type) {
    case "step.started":
      return `${time} #${ev.seq} step ${d.seq} "${d.name}" started`;
    case "step.finished": {
      const ms =
        typeof d.started_at === "string" && typeof d.finished_at === "string"
          ? ` ${new Date(d.finished_at).getTime() - new Date(d.started_at).getTime()} ms`
          : "";
      const err = d.error ? ` ${(d.error as { message?: string }).message ?? ""}` : "";
      return `${time} #${ev.seq} step ${d.seq} "${d.name}" ${d.status}${ms}${err}`;
    }
    case "run.progress":
      return `${time} #${ev.seq} progress ${JSON.stringify(d.progress)}`;
    default: {
      const status = ev.type.replace(/^run\./, "");
      const held = d.waiting_for as WaitingFor | undefined;
      if (held?.reason) return `${time} #${ev.seq} ${status} — ${holdHint(ev.run_id, held)}`;
      const err = d.error ? `: ${(d.error as { message?: string }).message ?? ""}` : "";
      return `${time} #${ev.seq} ${status}${err}`;
    }
  }
}

/** A run's state in a few words: status, and why when it is held. */
export function describeRun(run: RunResource, now = Date.now()): string {
  const held = run.waiting_for;
  return held ? `${run.status} — ${holdHint(run.id, held, now)}` : run.status;
}

/**
 * The line at the bottom of a terminal while a run is followed: its status, how long it
 * has been in it, why it waits and its latest progress, rewritten in place. Off the
 * terminal (a pipe, a file) it writes nothing: the event lines say it all.
 */
export class LiveLine {
  private text = "";
  private since = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    if (out.isTTY) this.timer = setInterval(() => this.draw(), 1_000).unref();
  }

  /** A new state: restarts the clock when the status line changes. */
  set(text: string): void {
    if (text !== this.text) this.since = Date.now();
    this.text = text;
    this.draw();
  }

  /** Writes a line above the live line. */
  log(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private clear(): void {
    if (this.out.isTTY) this.out.write("\r\x1b[K");
  }

  private draw(): void {
    if (!this.out.isTTY || !this.text) return;
    const secs = Math.round((Date.now() - this.since) / 1000);
    const line = `… ${this.text} (${secs} s)`;
    const width = this.out.columns ?? 120;
    this.out.write(`\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }
}
