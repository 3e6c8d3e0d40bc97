/**
 * Small HTTP helpers for the simulator suites: real requests over a real socket.
 */

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests index into provider JSON freely.
  body: any;
  text: string;
}

export async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
  return toReply(res);
}

export async function get(base: string, path: string, headers: Record<string, string> = {}) {
  return toReply(await fetch(`${base}${path}`, { headers }));
}

async function toReply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

export function chat(model: string, content: string, extra: Record<string, unknown> = {}) {
  return { model, messages: [{ role: "user", content }], ...extra };
}

export function claude(model: string, content: string, extra: Record<string, unknown> = {}) {
  return { model, max_tokens: 256, messages: [{ role: "user", content }], ...extra };
}

/** OpenAI SSE: the JSON of each `data:` line, and whether `[DONE]` ended it. */
export function parseDataEvents(text: string): { chunks: unknown[]; done: boolean } {
  const chunks: unknown[] = [];
  let done = false;
  for (const block of text.split("\n\n")) {
    if (!block.startsWith("data: ")) continue;
    const data = block.slice(6);
    if (data === "[DONE]") done = true;
    else chunks.push(JSON.parse(data));
  }
  return { chunks, done };
}

/** Anthropic SSE: `{event, data}` per event; checks the name repeats `data.type`. */
export function parseNamedEvents(text: string): { event: string; data: Record<string, unknown> }[] {
  const out: { event: string; data: Record<string, unknown> }[] = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    const [eventLine, dataLine] = block.split("\n");
    const event = eventLine?.replace(/^event: /, "") ?? "";
    const data = JSON.parse(dataLine?.replace(/^data: /, "") ?? "null") as Record<string, unknown>;
    if (data.type !== event) throw new Error(`event ${event} carries type ${String(data.type)}`);
    out.push({ event, data });
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
