/**
 * Which models exist and how each behaves. Options are validated once, at start-up,
 * with errors that name the offending field.
 */
import type { LimitSettings } from "./limits.js";
import type { SimModelConfig, SimulatorOptions } from "./types.js";

export interface ResolvedModel {
  config: SimModelConfig;
  limits: LimitSettings;
  latency: [number, number];
  errorRate: number;
  timeoutRate: number;
}

export class ModelCatalog {
  private readonly listed = new Map<string, ResolvedModel>();
  /** Unlisted names get the defaults; resolved once per name, then reused. */
  private readonly unlisted = new Map<string, ResolvedModel>();
  private readonly defaults: Omit<SimModelConfig, "name">;

  constructor(opts: SimulatorOptions) {
    this.defaults = opts.defaults ?? {};
    for (const m of opts.models ?? []) this.listed.set(m.name, resolve(m));
  }

  get(name: string): ResolvedModel {
    const found = this.listed.get(name) ?? this.unlisted.get(name);
    if (found) return found;
    const made = resolve({ ...this.defaults, name });
    this.unlisted.set(name, made);
    return made;
  }

  names(): string[] {
    return [...this.listed.keys()];
  }
}

function resolve(config: SimModelConfig): ResolvedModel {
  const limits: LimitSettings = {};
  for (const key of ["rpm", "tpm", "tpd", "itpm", "otpm", "concurrency"] as const) {
    if (config[key] !== undefined) limits[key] = config[key];
  }
  return {
    config,
    limits,
    latency: config.latencyMs ?? [0, 0],
    errorRate: config.errorRate ?? 0,
    timeoutRate: config.timeoutRate ?? 0,
  };
}

/**
 * Throws an Error naming the first invalid field, e.g. `models[1].rpm must be a positive
 * number (got -3)`.
 *
 * @example validateOptions({ defaults: { rpm: 0 } }) // throws "defaults.rpm must be …"
 */
export function validateOptions(opts: SimulatorOptions): void {
  if (
    opts.port !== undefined &&
    !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)
  ) {
    throw new Error(`port must be an integer from 0 to 65535 (got ${opts.port})`);
  }
  if (opts.seed !== undefined && !Number.isFinite(opts.seed)) {
    throw new Error(`seed must be a finite number (got ${opts.seed})`);
  }
  if (opts.defaults) validateModel(opts.defaults, "defaults");
  const seen = new Set<string>();
  (opts.models ?? []).forEach((m, i) => {
    if (typeof m.name !== "string" || m.name === "") {
      throw new Error(`models[${i}].name must be a non-empty string`);
    }
    if (seen.has(m.name)) throw new Error(`models[${i}].name "${m.name}" is listed twice`);
    seen.add(m.name);
    validateModel(m, `models[${i}]`);
  });
}

function validateModel(m: Omit<SimModelConfig, "name">, where: string): void {
  for (const key of ["rpm", "tpm", "tpd", "itpm", "otpm", "concurrency", "outputTokens"] as const) {
    const v = m[key];
    if (v !== undefined && !(typeof v === "number" && v > 0 && Number.isFinite(v))) {
      throw new Error(`${where}.${key} must be a positive number (got ${v})`);
    }
  }
  if (m.outputTokens !== undefined && !Number.isInteger(m.outputTokens)) {
    throw new Error(`${where}.outputTokens must be an integer (got ${m.outputTokens})`);
  }
  for (const key of ["errorRate", "timeoutRate"] as const) {
    const v = m[key];
    if (v !== undefined && !(typeof v === "number" && v >= 0 && v <= 1)) {
      throw new Error(`${where}.${key} must be between 0 and 1 (got ${v})`);
    }
  }
  if ((m.errorRate ?? 0) + (m.timeoutRate ?? 0) > 1) {
    throw new Error(`${where}.errorRate + ${where}.timeoutRate must not exceed 1`);
  }
  if (m.latencyMs !== undefined) {
    const [lo, hi] = Array.isArray(m.latencyMs) ? m.latencyMs : [];
    if (!(typeof lo === "number" && typeof hi === "number" && lo >= 0 && hi >= lo)) {
      throw new Error(`${where}.latencyMs must be [min, max] with 0 <= min <= max`);
    }
  }
  if (m.reply !== undefined && typeof m.reply !== "function") {
    throw new Error(`${where}.reply must be a function`);
  }
}
