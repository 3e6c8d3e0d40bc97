/**
 * What a target cannot serve, whatever the translation: such a target is skipped in
 * failover (neither failed nor waited for), and a call no target can serve is a 400
 * `OUTLAST_GATEWAY_UNSUPPORTED` naming what was asked.
 */
import type { Target, WireFormat } from "../config.js";
import type { Endpoint } from "../providers/endpoints.js";

type Obj = Record<string, unknown>;

/** Why `target` cannot serve the call, or undefined when it can. */
export function cannotServe(
  call: { format: WireFormat; endpoint?: Endpoint | undefined; body: Obj },
  target: Target,
): string | undefined {
  const upstream = target.provider.type;
  if (call.endpoint === "embeddings") return upstream === "openai" ? undefined : "embeddings";
  if (upstream === call.format || upstream !== "anthropic") return undefined;
  // Anthropic's messages API has no response_format: its answer would not be the JSON
  // the caller parses.
  const format = (call.body.response_format as Obj | undefined)?.type;
  return format === "json_schema" || format === "json_object"
    ? `response_format ${String(format)}`
    : undefined;
}
