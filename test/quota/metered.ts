import { type AnyAgent, defineAgent } from "../../src/engine/agent.js";
import { createGateway, type Gateway } from "../../src/gateway/index.js";
import type { Db } from "../../src/store/db.js";
import { silentLogger } from "../../src/util/log.js";

/**
 * The rate-share fixture of the quota tests: agent "paced-runs" (60 LLM calls a run) whose
 * calls so far took one second each — so a run makes 60 calls a minute — and a gateway
 * whose key allows 120 calls a minute: two runs at full speed, plus two more whose whole
 * forecast (60 calls) fits in the 120 banked in the untouched bucket.
 */
export async function meteredAgent(
  db: Db,
  providerUrl: string,
): Promise<{ paced: AnyAgent; metered: Gateway }> {
  const paced = defineAgent({
    name: "paced-runs",
    estimate: { llmCalls: 60, models: ["metered"] },
    run: async () => null,
  });
  await db.query(
    `INSERT INTO outlast.gateway_calls (project, agent, requested, provider, model, outcome, status,
       input_tokens, output_tokens, latency_ms)
     SELECT 'default', 'paced-runs', 'metered', 'sim', 'metered-model', 'ok', 200, 50, 50, 1000
     FROM generate_series(1, 10)`,
  );
  const metered = createGateway({
    db,
    config: {
      providers: {
        sim: {
          type: "openai",
          baseUrl: `${providerUrl}/v1`,
          apiKey: "metered-key",
          limits: { "metered-model": { rpm: 120 } },
        },
      },
      models: { metered: "sim/metered-model" },
    },
    log: silentLogger,
  });
  return { paced, metered };
}
