/**
 * `outlast dev`'s readable log line, made from pino's JSON line (already scrubbed):
 * `12:03:04.567 info  run failed runId=… agent=greet`. Ours rather than pino-pretty: one
 * short function instead of another dependency tree and a transport worker thread.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const { level, time, msg, ...fields } = entry;
  const clock = typeof time === "string" ? time.slice(11, 23) : "";
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${clock} ${String(level).padEnd(5)} ${String(msg ?? "")}${extra ? ` ${extra}` : ""}`;
}
