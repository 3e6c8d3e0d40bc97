/**
 * The run state machine.
 *
 * ```
 *            submit                 claim                    return
 *   (new) ─────────▶ queued ──────────────▶ running ─────────────────▶ succeeded
 *                     ▲  ▲                  │  │  │
 *       retry/backoff │  │ release (drain,  │  │  └── terminal error, attempts spent,
 *   (attempt+1)       │  │ dead worker)     │  │      non-determinism ────────────▶ failed
 *                     └──┴──────────────────┘  │
 *                   throttled ◀── rate limit ──┤ (no attempt consumed)
 *                   waiting   ◀── sleep/signal ┘ (issue: durable control flow)
 *   queued | waiting | throttled ── cancel ──▶ cancelled (at once)
 *   running ── cancel ──▶ cancel_requested; ends `cancelled` at the next step boundary
 * ```
 *
 * `queued`, `waiting` and `throttled` are all "ready when available_at has passed": the
 * claim query treats them alike, and they differ only in what they tell the user.
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
