/**
 * What a notifier says about a run: agent, what happened, duration, cost when the gateway
 * recorded any, and a link. One summary, rendered for Slack (mrkdwn) and email (text, HTML).
 */
export interface RunSummary {
  runId: string;
  agent: string;
  /** The event type, e.g. run.failed. */
  event: string;
  /** succeeded | failed | cancelled | running … (the run's status as of the event). */
  status: string;
  durationMs: number | null;
  /** USD of the run's LLM calls through the gateway; null when it made none. */
  costUsd: number | null;
  link: string;
  /** A failed run's error message. */
  error: string | null;
  at: string;
}

const ICON: Record<string, string> = {
  succeeded: "✅",
  failed: "❌",
  cancelled: "🚫",
  throttled: "⏳",
  waiting: "⏸️",
  running: "▶️",
  queued: "🕒",
};

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "n/a";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatCost(usd: number | null): string {
  if (usd === null) return "n/a";
  return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

function headline(s: RunSummary): string {
  if (
    s.event.startsWith("run.") &&
    s.event !== "run.progress" &&
    s.event !== "run.cancel_requested"
  ) {
    return `Run of ${s.agent} ${s.status}`;
  }
  return `Run of ${s.agent}: ${s.event}`;
}

/** Lines shared by every rendering: [label, value]. */
function fields(s: RunSummary): [string, string][] {
  return [
    ["Agent", s.agent],
    ["Status", s.status],
    ["Duration", formatDuration(s.durationMs)],
    ["Cost", formatCost(s.costUsd)],
    ["Run", s.runId],
    ...(s.error ? ([["Error", s.error]] as [string, string][]) : []),
  ];
}

/** A Slack incoming-webhook message (text for notifications, blocks for the channel). */
export function slackMessage(s: RunSummary): { text: string; blocks: unknown[] } {
  const icon = ICON[s.status] ?? "ℹ️";
  const text = `${icon} ${headline(s)} in ${formatDuration(s.durationMs)} (cost ${formatCost(s.costUsd)}): ${s.link}`;
  const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return {
    text,
    blocks: [
      {
        type: "section",
        text: { type: "mrkdwn", text: `${icon} *${esc(headline(s))}* — <${s.link}|view run>` },
      },
      {
        type: "section",
        fields: fields(s).map(([k, v]) => ({ type: "mrkdwn", text: `*${k}*\n${esc(v)}` })),
      },
    ],
  };
}

/** An email: subject, plain text and HTML. */
export function emailMessage(s: RunSummary): { subject: string; text: string; html: string } {
  const esc = (t: string) =>
    t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const subject = `[Outlast] ${headline(s)} (${formatDuration(s.durationMs)})`;
  const lines = fields(s).map(([k, v]) => `${k}: ${v}`);
  const text = `${headline(s)}.\n\n${lines.join("\n")}\n\n${s.link}\n`;
  const rows = fields(s)
    .map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join("");
  const html = `<p>${esc(headline(s))}.</p><table>${rows}</table><p><a href="${esc(s.link)}">View the run</a></p>`;
  return { subject, text, html };
}
