/**
 * Why Outlast is behind where it is behind: what was measured (profiles, statement counts,
 * EXPLAIN ANALYZE) and what it showed. Keyed `${workload id}:${system id}`; the report
 * prints a finding under every comparison that Outlast loses, and says plainly when a
 * loss has not been profiled yet. Keep each entry to what was actually measured.
 */
export const FINDINGS: Record<string, string> = {};
