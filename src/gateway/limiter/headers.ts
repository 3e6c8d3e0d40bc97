/**
 * What a provider's response headers say is left of its quota, per limiter dimension
 * ([rpm, tpm, itpm, otpm, tpd]; null = not reported). PROVIDERS.md lists the headers.
 */

/** Anthropic rounds token `remaining` to the nearest thousand: true value may be 500 more. */
const ANTHROPIC_TOKEN_ROUNDING = 500;

export function remainingFromHeaders(h: Headers): (number | null)[] | null {
  const num = (name: string, slack = 0): number | null => {
    const v = h.get(name);
    if (v === null || v.trim() === "") return null;
    const n = Number(v);
    return Number.isFinite(n) ? n + slack : null;
  };
  const out: (number | null)[] = [
    num("x-ratelimit-remaining-requests") ?? num("anthropic-ratelimit-requests-remaining"),
    // OpenAI's token headers describe TPM. Anthropic's `tokens-*` is "the most restrictive
    // limit in force", which bounds no single dimension, so it is not used.
    num("x-ratelimit-remaining-tokens"),
    num("anthropic-ratelimit-input-tokens-remaining", ANTHROPIC_TOKEN_ROUNDING),
    num("anthropic-ratelimit-output-tokens-remaining", ANTHROPIC_TOKEN_ROUNDING),
    null,
  ];
  return out.some((x) => x !== null) ? out : null;
}
