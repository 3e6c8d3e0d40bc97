/**
 * What a provider's response headers say is left of its quota, per limiter dimension
 * ([rpm, tpm, itpm, otpm, tpd]; null = not reported). PROVIDERS.md lists the headers.
 */

import type { ReplyHeaders } from "../providers/transport.js";

/** Anthropic rounds token `remaining` to the nearest thousand: true value may be 500 more. */
const ANTHROPIC_TOKEN_ROUNDING = 500;

function num(h: ReplyHeaders, name: string, slack = 0): number | null {
  const v = h.get(name);
  if (v === null || v.trim() === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n + slack : null;
}

export function remainingFromHeaders(h: ReplyHeaders): (number | null)[] | null {
  const out: (number | null)[] = [
    num(h, "x-ratelimit-remaining-requests") ?? num(h, "anthropic-ratelimit-requests-remaining"),
    // OpenAI's token headers describe TPM. Anthropic's `tokens-*` is "the most restrictive
    // limit in force", which bounds no single dimension, so it is not used.
    num(h, "x-ratelimit-remaining-tokens"),
    num(h, "anthropic-ratelimit-input-tokens-remaining", ANTHROPIC_TOKEN_ROUNDING),
    num(h, "anthropic-ratelimit-output-tokens-remaining", ANTHROPIC_TOKEN_ROUNDING),
    null,
  ];
  return out[0] !== null || out[1] !== null || out[2] !== null || out[3] !== null ? out : null;
}
