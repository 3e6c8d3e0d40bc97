/**
 * The quota dimensions the limiter tracks, in the fixed order the store's arrays use.
 * Concurrency is not a bucket (it is given back, not refilled) and travels apart.
 */
export const DIMENSIONS = ["rpm", "tpm", "itpm", "otpm", "tpd"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** One number per dimension, in DIMENSIONS order. */
export type Vec = [number, number, number, number, number];
/** Capacities; null = not limited. */
export type Caps = [number | null, number | null, number | null, number | null, number | null];

export const PERIOD_MS: Vec = [60_000, 60_000, 60_000, 60_000, 86_400_000];

export interface LimitSpec {
  caps: Caps;
  concurrency: number | null;
}

export type Limits = Partial<Record<Dimension | "concurrency", number>>;

export function specOf(limits: Limits | undefined): LimitSpec {
  const l = limits ?? {};
  return {
    caps: [l.rpm ?? null, l.tpm ?? null, l.itpm ?? null, l.otpm ?? null, l.tpd ?? null],
    concurrency: l.concurrency ?? null,
  };
}

export function isUnlimited(spec: LimitSpec): boolean {
  return spec.concurrency === null && spec.caps.every((c) => c === null);
}

export const zero = (): Vec => [0, 0, 0, 0, 0];

/** What one request costs in each dimension: one request, its input and its output. */
export function amountsFor(input: number, output: number): Vec {
  return [1, input + output, input, output, input + output];
}

export function sub(a: Vec, b: Vec): Vec {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3], a[4] - b[4]];
}

export function add(a: Vec, b: Vec): Vec {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4]];
}

/** Whether `credit` covers `need` in every limited dimension (1e-9 absorbs float drift). */
export function covers(credit: Vec, need: Vec, caps: Caps): boolean {
  for (let i = 0; i < 5; i++) {
    if (
      caps[i] !== null &&
      (need[i] as number) > 0 &&
      (credit[i] as number) + 1e-9 < (need[i] as number)
    )
      return false;
  }
  return true;
}

export function isZero(v: Vec): boolean {
  return v.every((x) => Math.abs(x) < 1e-9);
}
