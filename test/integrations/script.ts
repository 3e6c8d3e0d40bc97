import type { SimReply, SimReplyRequest } from "../../src/sim/index.js";

/**
 * The simulated model behind the SDK tests (test/fixtures/sdks.config.ts): the triage
 * agent hands off to the researcher; the researcher calls `lookup` until the conversation
 * carries five results (four after a handoff, whose own result counts as one), then
 * answers. A function of the request alone, so a replayed or repeated call is answered
 * the same.
 */
export function sdkScript(req: SimReplyRequest): SimReply {
  if (req.tools.includes("transfer_to_researcher")) {
    return { toolCalls: [{ name: "transfer_to_researcher", arguments: {} }] };
  }
  const handoff = req.lastUserText.startsWith("handoff");
  const lookups = req.toolResults - (handoff ? 1 : 0);
  if (req.tools.includes("lookup") && lookups < (handoff ? 4 : 5)) {
    return { toolCalls: [{ name: "lookup", arguments: { n: lookups + 1 } }] };
  }
  return { text: `done after ${lookups} lookups` };
}
