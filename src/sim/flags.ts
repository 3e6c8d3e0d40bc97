/**
 * Command-line flags (all strings, as a CLI parser hands them over) to SimulatorOptions.
 * Shared by `outlast sim` and the standalone `src/sim/main.ts`.
 */
import type { SimModelConfig, SimulatorOptions } from "./types.js";

export interface SimFlags {
  port?: string;
  host?: string;
  rpm?: string;
  tpm?: string;
  tpd?: string;
  itpm?: string;
  otpm?: string;
  concurrency?: string;
  /** "200-600" (uniform range) or "300" (fixed). */
  latencyMs?: string;
  errorRate?: string;
  timeoutRate?: string;
  outputTokens?: string;
  seed?: string;
  /** Comma-separated model names to list in /v1/models; any other name is served too. */
  models?: string;
}

/**
 * Validates flags and builds options; the limits apply to every model. Throws an Error
 * naming the bad flag.
 *
 * @example
 * simOptionsFromFlags({ port: "0", rpm: "600", latencyMs: "200-600" })
 * // { port: 0, defaults: { rpm: 600, latencyMs: [200, 600] } }
 */
export function simOptionsFromFlags(flags: SimFlags): SimulatorOptions {
  const defaults: Omit<SimModelConfig, "name"> = {};
  for (const key of ["rpm", "tpm", "tpd", "itpm", "otpm", "concurrency", "outputTokens"] as const) {
    const raw = flags[key];
    if (raw !== undefined) defaults[key] = positiveInt(flagName(key), raw);
  }
  if (flags.latencyMs !== undefined) defaults.latencyMs = latencyRange(flags.latencyMs);
  if (flags.errorRate !== undefined) defaults.errorRate = rate("--error-rate", flags.errorRate);
  if (flags.timeoutRate !== undefined)
    defaults.timeoutRate = rate("--timeout-rate", flags.timeoutRate);
  if ((defaults.errorRate ?? 0) + (defaults.timeoutRate ?? 0) > 1) {
    throw new Error("--error-rate plus --timeout-rate must not exceed 1");
  }

  const opts: SimulatorOptions = { defaults };
  if (flags.port !== undefined) {
    const port = integer("--port", flags.port);
    if (port < 0 || port > 65535)
      throw new Error(`--port must be from 0 to 65535 (got "${flags.port}")`);
    opts.port = port;
  }
  if (flags.host !== undefined) {
    if (flags.host.trim() === "") throw new Error("--host must not be empty");
    opts.host = flags.host;
  }
  if (flags.seed !== undefined) opts.seed = integer("--seed", flags.seed);
  if (flags.models !== undefined) {
    const names = flags.models
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean);
    if (names.length === 0)
      throw new Error(`--models must list at least one name (got "${flags.models}")`);
    opts.models = [...new Set(names)].map((name) => ({ ...defaults, name }));
  }
  return opts;
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function integer(flag: string, raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new Error(`${flag} must be an integer (got "${raw}")`);
  return Number(raw);
}

function positiveInt(flag: string, raw: string): number {
  const n = integer(flag, raw);
  if (n < 1) throw new Error(`${flag} must be a positive integer (got "${raw}")`);
  return n;
}

function rate(flag: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new Error(`${flag} must be a number from 0 to 1 (got "${raw}")`);
  }
  return n;
}

function latencyRange(raw: string): [number, number] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$/.exec(raw);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || hi < lo) {
    throw new Error(`--latency-ms must be "MIN-MAX" or "MS" with MIN <= MAX (got "${raw}")`);
  }
  return [lo, hi];
}
