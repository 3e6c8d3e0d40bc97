import { createHmac, randomBytes } from "node:crypto";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 with the secret's bytes (the
 * base64 after `whsec_`), sent as `webhook-signature: v1,<base64>`. Receivers verify with
 * any Standard Webhooks library, e.g. `new Webhook(secret).verify(body, headers)`.
 */

/** A new signing secret: `whsec_` and 24 random bytes in base64. */
export function generateSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function isSecret(s: string): boolean {
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s)) return false;
  return Buffer.from(s.slice(6), "base64").length >= 16;
}

/**
 * @example
 * ```ts
 * const headers = signatureHeaders(secret, deliveryId, JSON.stringify(payload));
 * await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
 * ```
 */
export function signatureHeaders(
  secret: string,
  msgId: string,
  body: string,
  now: Date = new Date(),
): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const sig = createHmac("sha256", key).update(`${msgId}.${timestamp}.${body}`).digest("base64");
  return { "webhook-id": msgId, "webhook-timestamp": timestamp, "webhook-signature": `v1,${sig}` };
}
