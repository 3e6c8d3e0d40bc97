/**
 * What a key looks like: `olk_<id>_<secret>` for an API key, `olr_<id>_<secret>` for a
 * run-scoped token. The id (12 characters of [a-z0-9], ~62 bits) is public: it names the
 * key in `keys list`, the audit log and DELETE /v1/keys/:id, and finds the key in each
 * process's cache without hashing anything. The secret is 32 random bytes in base64url;
 * only its SHA-256 is stored. `prefix` (`olk_<id>`) is what a person sees to tell keys
 * apart.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";

export type TokenKind = "olk" | "olr";

export interface KeyMaterial {
  id: string;
  /** The whole credential, shown once. */
  token: string;
  prefix: string;
  /** SHA-256 of the secret part, hex: what the database keeps. */
  secretHash: string;
}

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
export const KEY_ID_LENGTH = 12;

/** SHA-256 in hex. */
export function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

/**
 * A new key's id, secret and hash.
 *
 * @example
 * const k = newKeyMaterial("olk"); // k.token "olk_3xk9…_Qm…", k.prefix "olk_3xk9…"
 */
export function newKeyMaterial(kind: TokenKind): KeyMaterial {
  let id = "";
  for (let i = 0; i < KEY_ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  const secret = randomBytes(32).toString("base64url");
  return {
    id,
    token: `${kind}_${id}_${secret}`,
    prefix: `${kind}_${id}`,
    secretHash: sha256Hex(secret),
  };
}

export interface ParsedToken {
  kind: TokenKind;
  id: string;
  secret: string;
}

/**
 * The parts of an `olk_`/`olr_` token; undefined for anything else (a bootstrap or config
 * key of any format). No allocation beyond the two substrings.
 */
export function parseToken(token: string): ParsedToken | undefined {
  if (token.length < 4 + KEY_ID_LENGTH + 2 || token.charCodeAt(3) !== 95 /* _ */) return;
  if (token.charCodeAt(4 + KEY_ID_LENGTH) !== 95) return;
  const kind = token.startsWith("olk") ? "olk" : token.startsWith("olr") ? "olr" : undefined;
  if (kind === undefined) return;
  return { kind, id: token.slice(4, 4 + KEY_ID_LENGTH), secret: token.slice(5 + KEY_ID_LENGTH) };
}

/** The id a config key's row gets: stable across restarts, derived from the key's hash. */
export function configKeyId(key: string): string {
  return `cfg_${sha256Hex(key).slice(0, 12)}`;
}
