/**
 * Billed usage as each wire format reports it, normalised: `input` includes tokens read
 * from the provider's prompt cache, `cached` is that part.
 */
export interface Usage {
  input: number;
  output: number;
  cached: number;
}

const n = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

export function openaiUsage(u: unknown): Usage | undefined {
  if (u === null || typeof u !== "object") return undefined;
  const o = u as Record<string, unknown>;
  const details = o.prompt_tokens_details as Record<string, unknown> | undefined;
  return {
    input: n(o.prompt_tokens),
    output: n(o.completion_tokens),
    cached: n(details?.cached_tokens),
  };
}

/** Anthropic's `input_tokens` excludes cache reads and writes; both are input billed. */
export function anthropicUsage(u: unknown): Usage | undefined {
  if (u === null || typeof u !== "object") return undefined;
  const o = u as Record<string, unknown>;
  const read = n(o.cache_read_input_tokens);
  return {
    input: n(o.input_tokens) + read + n(o.cache_creation_input_tokens),
    output: n(o.output_tokens),
    cached: read,
  };
}
