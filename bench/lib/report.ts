/** What each workload hands back for BENCHMARKS.md. */
import type { Progress } from "./progress.js";

export interface Ctx {
  progress: Progress;
  rounds: number;
  /** Smaller sizes, for trying the runner out (not for the committed report). */
  quick: boolean;
}

/** One comparison, for the summary table and the "where Outlast is behind" section. */
export interface Comparison {
  workload: string;
  /** Finding key: `${workload id}:${system id}` (see bench/findings.ts). */
  key: string;
  metric: string;
  outlast: string;
  other: string;
  otherLabel: string;
  /** > 1: Outlast better. */
  advantage: number;
  verdict: string;
  /** Per-round figures, to tell a real gap from noise (ranges that overlap). */
  rounds?: { ours: number[]; other: number[] };
}

export interface Section {
  id: string;
  title: string;
  body: string;
  charts: { file: string; svg: string }[];
  comparisons: Comparison[];
  failures: { system: string; error: string }[];
}

export function cellError(label: string, error: string | undefined): string {
  return error ? `${label}: ${error}` : "";
}
