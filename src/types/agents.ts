/**
 * What quota admission reads of an agent: its name and what one run needs. The engine's
 * `AgentDefinition` (src/engine/agent.ts) has these fields and more.
 */
export interface AgentProfile {
  readonly name: string;
  /**
   * What one run needs, for quota-aware admission. Default: learned from the agent's
   * finished runs (90th percentile), with a modest prior for the first ones.
   */
  readonly estimate?: { llmCalls?: number; tokens?: number; models?: string[] };
  /**
   * When today's quota (TPD) cannot cover a run: `wait` (default) keeps it `throttled`
   * until the quota refills; `fail` refuses it at submit (429 OUTLAST_QUOTA_EXHAUSTED).
   */
  readonly whenQuotaShort?: "wait" | "fail";
}
