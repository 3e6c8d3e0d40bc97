/**
 * The run state machine.
 *
 * ```
 *            submit                 claim                    return
 *   (new) ─────────▶ queued ──────────────▶ running ─────────────────▶ succeeded
 *                     ▲  ▲                  │  │  │
 *       retry/backoff │  │ release (drain,  │  │  └── terminal error, attempts spent,
 *  (next claim begins │  │ dead worker)     │  │      non-determinism ────────────▶ failed
 *   a new attempt)    └──┴──────────────────┘  │
 *                   throttled ◀── rate limit ──┤ (same attempt)
 *                   waiting   ◀── sleep/signal/child ┘ (same attempt)
 *   queued | waiting | throttled ── cancel ──▶ cancelled (at once)
 *   running ── cancel ──▶ cancel_requested; ends `cancelled` at the next step boundary
 * ```
 *
 * `queued`, `waiting` and `throttled` are all "ready when available_at has passed": the
 * claim query treats them alike, and they differ only in what they tell the user, with
 * `waiting_for {kind, reason}` (src/engine/waiting-for.ts).
 *
 * Attempts: `runs.attempt` counts attempts begun. A claim begins a new attempt after a
 * submit, a retry or a resume (`runs.new_attempt`); any other claim continues the current
 * one, so a first-try success shows 1 and `attempt ≤ max_attempts` always holds.
 * Terminal states never change again.
 */
export const RUN_STATUSES = [
  "queued",
  "running",
  "waiting",
  "throttled",
  "succeeded",
  "failed",
  "cancelled",
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
]);

export function isTerminalStatus(s: string): boolean {
  return TERMINAL_STATUSES.has(s as RunStatus);
}
