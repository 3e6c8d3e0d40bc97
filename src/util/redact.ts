/**
 * What the logger hides. Two nets, because either alone misses something:
 *
 * 1. by field name (pino's `redact` paths, plus any key that names a secret at any depth):
 *    `apiKey`, `authorization`, `x-api-key`, `secret`, `password`, `pass`, `token`…;
 * 2. by value: strings that look like keys (`sk-…`, `whsec_…`, `Bearer …`, Slack tokens and
 *    webhook URLs), and the exact values of the secrets this process was configured with
 *    (`registerSecret`: the API key, provider keys, webhook and SMTP secrets), wherever
 *    they appear — inside an error message, a URL, a field with an innocent name.
 */
export const CENSOR = "[redacted]";

/** Field names whose value is always hidden, compared lower-cased without `-` and `_`. */
const SECRET_KEYS = new Set([
  "apikey",
  "xapikey",
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "secret",
  "webhooksecret",
  "signingsecret",
  "password",
  "pass",
  "smtppassword",
  "token",
  "accesstoken",
  "refreshtoken",
  "privatekey",
]);

/** pino `redact` paths: the same names at the top level and one level down. */
export const REDACT_PATHS = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  "headers.authorization",
  "*.headers.authorization",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "pass",
  "*.pass",
];

const PATTERNS: RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{8,}/g, // OpenAI, Anthropic (sk-ant-…) and most compatible providers
  /\bwhsec_[A-Za-z0-9+/=_-]{8,}/g, // Standard Webhooks secrets
  /\bol[kr]_[a-z0-9]{12}_[A-Za-z0-9_-]{8,}/g, // Outlast API keys and run tokens
  /\bBearer[ \t]+[^\s"',]+/gi, // an Authorization header's value
  /\bxox[abprs]-[A-Za-z0-9-]{8,}/g, // Slack tokens
  /hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g, // Slack incoming-webhook URLs
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
];

const known = new Set<string>();

/**
 * Hides `value` wherever it appears in a log line from now on. Values under 6 characters
 * are ignored: scrubbing "test" from every line would hide more than it protects.
 */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value === "string" && value.length >= 6) known.add(value);
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ""));
}

/** A string with every key-looking part and every registered secret replaced. */
export function scrubString(s: string): string {
  let out = s;
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(CENSOR);
  for (const p of PATTERNS) out = out.replace(p, CENSOR);
  return out;
}

/**
 * A copy of `value` with secret-named fields censored and strings scrubbed, `depth` levels
 * down (log fields are shallow; a deeper object is left as it is beyond that).
 */
export function scrub(value: unknown, depth = 6, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return scrubString(value);
  if (value === null || typeof value !== "object" || depth === 0) return value;
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  if (value instanceof Error) {
    return {
      name: value.name,
      message: scrubString(value.message),
      stack: value.stack && scrubString(value.stack),
    };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth - 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null ? CENSOR : scrub(v, depth - 1, seen);
  }
  return out;
}
