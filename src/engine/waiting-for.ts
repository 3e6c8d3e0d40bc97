/**
 * Why a run is not running: `runs.waiting_for`, one shape for every held run, which the
 * API, the events, the CLI and the dashboard show and group by `kind`.
 *
 * | kind             | the run is                                        | set by                  |
 * | ---------------- | ------------------------------------------------- | ----------------------- |
 * | `sleep`          | waiting: in `ctx.sleep` until `until`             | park (the worker)       |
 * | `signal`         | waiting: in `ctx.waitForSignal`                   | park                    |
 * | `child`          | waiting: for child runs (`ctx.runAgent`)          | park                    |
 * | `provider_limit` | throttled: a provider's limit (or its 429)        | requeue (the worker)    |
 * | `cap`            | throttled: a `gateway.caps` cap of your own       | requeue                 |
 * | `retry`          | queued: backing off after a failed attempt        | requeue                 |
 * | `scheduled`      | queued: `run_at` is in the future                 | read time (the API)     |
 * | `no_worker`      | ready, but no live worker serves its queue        | read time (the API)     |
 * | `thread`         | queued: behind earlier runs of its thread         | submit (migration 016)  |
 *
 * `budget` is reserved for budgets. Kinds are only ever added,
 * never changed: clients switch on them. `reason` is a sentence for people.
 */

import type { Wait, WaitingFor } from "../types/index.js";

function describeWait(w: Wait): string {
  switch (w.kind) {
    case "sleep":
      return `sleeping in "${w.name}" until ${w.until}`;
    case "signal":
      return `waiting for signal "${w.name}"${w.until ? ` until ${w.until}` : ""}`;
    case "child":
      return `waiting for child run ${w.childId} ("${w.name}")`;
  }
}

/** A run parked in sleeps, signal waits and child runs (every ctx call in flight blocked). */
export function parkedFor(waits: Wait[], until: string | null): WaitingFor {
  return {
    kind: waits[0]?.kind ?? "sleep",
    reason: waits.map(describeWait).join("; "),
    waits,
    signals: waits.filter((w) => w.kind === "signal").map((w) => w.name),
    until,
  };
}

/** Limits of `gateway.caps` are named `project "p"`, `feature "f"`, `tenant "t"`. */
const CAP_LIMIT = /^(project|feature|tenant) "/;

/** Whether a limit's name (`sim/gpt-4o-mini tpm`, `tenant "acme" rpm`) is a cap's. */
export function limitKind(limit: string | undefined): "cap" | "provider_limit" {
  return limit !== undefined && CAP_LIMIT.test(limit) ? "cap" : "provider_limit";
}

/**
 * A throttled run: `limit` names what holds it (`sim/gpt-4o-mini tpm`, `tenant "acme" rpm`),
 * `detail` says what happened. `until` and `eta` are added by the store from its clock.
 */
export function throttledFor(
  limit: string | undefined,
  detail: string,
): Omit<WaitingFor, "until" | "eta"> {
  const kind = limitKind(limit);
  const what = limit
    ? `${kind === "cap" ? "the cap" : "the provider limit"} ${limit}`
    : "a provider";
  return {
    kind,
    reason: `throttled by ${what}: ${detail}`,
    waits: [],
    signals: [],
    limit: limit ?? "provider rate limit",
  };
}

/** A run queued again after a failed attempt, until its backoff ends. */
export function retryFor(attempt: number, detail: string): Omit<WaitingFor, "until" | "eta"> {
  return {
    kind: "retry",
    reason: `attempt ${attempt} failed (${detail}); the next one starts after its backoff`,
    waits: [],
    signals: [],
  };
}

/** A queued run whose `run_at` is still ahead. */
export function scheduledFor(at: string): WaitingFor {
  return {
    kind: "scheduled",
    reason: `scheduled to start at ${at}`,
    waits: [],
    signals: [],
    until: at,
  };
}

/** A ready run that nothing will pick up: no live worker serves its queue. */
export function noWorkerFor(queue: string): WaitingFor {
  return {
    kind: "no_worker",
    reason: `no live worker serves queue "${queue}"; start one: outlast worker --queues ${queue}`,
    waits: [],
    signals: [],
    until: null,
    queue,
  };
}
