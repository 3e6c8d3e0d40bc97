/**
 * Scripted replies: what a model's `reply` script sees of a request, the values it may
 * ask for (JSON made from the request's schema, an error), and the error it raises.
 * A script's answer is a function of the request alone — never of call order — so a
 * retried or replayed call is answered the same (docs/simulator.md).
 */
import { lastUserText } from "./tokens.js";
import type { SimReplyRequest } from "./types.js";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** A script asked for an error reply: answered with this status in the API's error shape. */
export class ScriptedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Tool results in a conversation, in either wire format. */
export function countToolResults(messages: readonly unknown[]): number {
  let n = 0;
  for (const m of messages) {
    if (!isObj(m)) continue;
    if (m.role === "tool" || m.role === "function") n++;
    else if (Array.isArray(m.content)) {
      for (const b of m.content) if (isObj(b) && b.type === "tool_result") n++;
    }
  }
  return n;
}

/** Tool names of an OpenAI (`{function: {name}}`) or Anthropic (`{name}`) tools list. */
export function toolNames(tools: unknown): string[] {
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((t) => {
    if (!isObj(t)) return [];
    const name = isObj(t.function) ? t.function.name : t.name;
    return typeof name === "string" ? [name] : [];
  });
}

/** The schema OpenAI's `response_format` asks for: `{}` for json_object, else its schema. */
export function responseSchemaOf(format: unknown): unknown {
  if (!isObj(format)) return undefined;
  if (format.type === "json_object") return {};
  if (format.type === "json_schema" && isObj(format.json_schema)) {
    return format.json_schema.schema ?? {};
  }
  return undefined;
}

export function replyRequest(
  model: string,
  messages: unknown[],
  tools: unknown,
  responseFormat: unknown,
): SimReplyRequest {
  return {
    model,
    messages,
    tools: toolNames(tools),
    toolResults: countToolResults(messages),
    responseSchema: responseSchemaOf(responseFormat),
    lastUserText: lastUserText(messages),
  };
}

/**
 * A value that matches a JSON schema, the same every time: the first of an enum or
 * anyOf, every property of an object, one item of an array, `minimum` (else 0) for
 * numbers, `true`, and for strings the property's name (a string's `format` where it
 * has one). `$ref`s into `$defs`/`definitions` are followed.
 *
 * @example sampleFromSchema({ type: "object", properties: { city: { type: "string" } } })
 * // { city: "city" }
 */
export function sampleFromSchema(schema: unknown, root: unknown = schema, name = "value"): unknown {
  if (!isObj(schema)) return {};
  if (typeof schema.$ref === "string") {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = m && isObj(root) ? (root[m[1] as string] as Obj | undefined) : undefined;
    return sampleFromSchema(defs?.[m?.[2] as string], root, name);
  }
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    const list = schema[k];
    if (Array.isArray(list) && list.length > 0) {
      const nonNull = list.find((s) => !(isObj(s) && s.type === "null")) ?? list[0];
      return sampleFromSchema(nonNull, root, name);
    }
  }
  const type = Array.isArray(schema.type)
    ? (schema.type.find((t) => t !== "null") ?? "null")
    : schema.type;
  switch (type) {
    case "string":
      return STRING_FORMATS[String(schema.format)] ?? name;
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 0;
    case "boolean":
      return true;
    case "null":
      return null;
    case "array": {
      const min = typeof schema.minItems === "number" ? Math.max(1, schema.minItems) : 1;
      return Array.from({ length: min }, () => sampleFromSchema(schema.items, root, name));
    }
    default: {
      const out: Obj = {};
      const props = isObj(schema.properties) ? schema.properties : {};
      for (const [k, v] of Object.entries(props)) out[k] = sampleFromSchema(v, root, k);
      return out;
    }
  }
}

const STRING_FORMATS: Record<string, string> = {
  "date-time": "2026-01-01T00:00:00Z",
  date: "2026-01-01",
  time: "00:00:00Z",
  email: "someone@example.com",
  uri: "https://example.com",
  uuid: "00000000-0000-4000-8000-000000000000",
};
