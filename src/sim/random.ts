/**
 * Deterministic randomness: latency and injected failures come from a seeded PRNG so a
 * benchmark or flaky-looking test can be replayed exactly; embeddings and ids derive from
 * a string hash.
 */

/**
 * mulberry32: 32-bit state, passes the usual statistical batteries well enough for
 * jitter, and costs a handful of integer ops per draw.
 *
 * @example const next = seededRandom(1); next(); // 0.6270739405881613
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * FNV-1a over UTF-16 code units; 32-bit.
 *
 * @example fnv1a("hello") // 1335831723
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
