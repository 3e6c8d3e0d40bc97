/**
 * Server-sent events: framing for both APIs, and pacing of a stream over its latency.
 */
import type { Exchange } from "./engine.js";

/** One SSE event; `content` marks events that carry generated output (pacing points). */
export interface SseEvent {
  data: string;
  content: boolean;
}

/** OpenAI framing: `data: {json}` only. */
export function dataEvent(payload: unknown, content: boolean): SseEvent {
  return { data: `data: ${JSON.stringify(payload)}\n\n`, content };
}

/** Anthropic framing: a named event whose data repeats the type. */
export function namedEvent(name: string, payload: unknown, content: boolean): SseEvent {
  return { data: `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`, content };
}

/**
 * JSON of `payload` with its one empty-string field `field` filled in, built by string
 * concatenation: per-word stream chunks differ only in that field, and re-serialising the
 * whole chunk for each word was half of a streamed response's CPU time.
 *
 * @example jsonWith({ a: 1, text: "" }, "text")("hi") // '{"a":1,"text":"hi"}'
 */
export function jsonWith(payload: unknown, field: string): (value: string) => string {
  const json = JSON.stringify(payload);
  const marker = `"${field}":""`;
  const at = json.indexOf(marker);
  if (at < 0 || json.indexOf(marker, at + 1) >= 0)
    throw new Error(`jsonWith: need exactly one empty "${field}"`);
  const head = json.slice(0, at + marker.length - 2);
  const tail = json.slice(at + marker.length);
  return (value) => head + JSON.stringify(value) + tail;
}

/**
 * Groups events into paced writes: each content event closes a group, so framing events
 * travel with the next piece of content, and trailing framing with the last.
 */
export function groupEvents(events: readonly SseEvent[]): string[] {
  const groups: string[] = [];
  let current = "";
  for (const e of events) {
    current += e.data;
    if (e.content) {
      groups.push(current);
      current = "";
    }
  }
  if (current) {
    if (groups.length > 0) groups[groups.length - 1] += current;
    else groups.push(current);
  }
  return groups;
}

/**
 * Splits text into word-sized pieces (leading whitespace kept), the granularity at which
 * the stream is delivered; joining the pieces gives the text back.
 *
 * @example textPieces("a b ") // ["a", " b", " "]
 */
export function textPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+/g) ?? [];
}

/**
 * Writes the groups spread evenly over `totalMs`: group i is due at (i + 1) / n of the
 * total, so the last piece lands at the full latency. Groups already due are coalesced
 * into one write, which keeps timers at ≥1 ms and makes a zero-latency stream a single
 * write. `begin` sends the headers just before the first write, so time-to-first-byte
 * is the time to the first token, as at the providers.
 */
export function paceStream(
  exchange: Exchange,
  begin: () => void,
  groups: readonly string[],
  totalMs: number,
): void {
  const res = exchange.res;
  const start = performance.now();
  const n = groups.length;
  let next = 0;
  let begun = false;
  const step = (): void => {
    const elapsed = performance.now() - start;
    let chunk = "";
    while (next < n && (totalMs * (next + 1)) / n <= elapsed + 0.5) chunk += groups[next++];
    if (!begun && (chunk || next >= n)) {
      begin();
      begun = true;
    }
    if (next >= n) {
      res.end(chunk);
      return;
    }
    if (chunk) res.write(chunk);
    exchange.later(Math.max(1, start + (totalMs * (next + 1)) / n - performance.now()), step);
  };
  step();
}
