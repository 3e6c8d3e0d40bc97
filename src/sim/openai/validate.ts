/**
 * Request validation for the OpenAI endpoints. Messages mimic the API's own wording so a
 * client sees the same 400 it would see in production.
 */
import { isPositiveInt, isRecord } from "../http.js";
import { invalidRequest, type OpenAIErrorInfo } from "./wire.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: OpenAIErrorInfo };

export interface ChatRequest {
  model: string;
  messages: unknown[];
  maxTokens: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  /** Tools were declared and `tool_choice` is not "none". */
  toolsAllowed: boolean;
  /** Tool definitions as text: they count toward prompt tokens. */
  toolsText: string;
  /** `tools` and `response_format` as sent, for reply scripts. */
  tools: unknown;
  responseFormat: unknown;
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

export function parseChat(body: unknown): Parsed<ChatRequest> {
  if (!isRecord(body)) return fail(invalidRequest("The request body must be a JSON object."));
  if (typeof body.model !== "string" || body.model === "") {
    return fail(invalidRequest("you must provide a model parameter", "model"));
  }
  const { messages } = body;
  if (messages === undefined) {
    return fail(
      invalidRequest(
        "Missing required parameter: 'messages'.",
        "messages",
        "missing_required_parameter",
      ),
    );
  }
  if (!Array.isArray(messages)) {
    return fail(
      invalidRequest(
        `Invalid type for 'messages': expected an array, but got ${typeName(messages)} instead.`,
        "messages",
        "invalid_type",
      ),
    );
  }
  if (messages.length === 0) {
    return fail(invalidRequest("[] is too short - 'messages'", "messages", "empty_array"));
  }
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m)) {
      return fail(
        invalidRequest(
          `Invalid type for 'messages[${i}]': expected an object, but got ${typeName(m)} instead.`,
          `messages[${i}]`,
          "invalid_type",
        ),
      );
    }
    if (typeof m.role !== "string" || !ROLES.has(m.role)) {
      return fail(
        invalidRequest(
          `Invalid value: '${String(m.role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
          `messages[${i}].role`,
          "invalid_value",
        ),
      );
    }
  }
  let maxTokens: number | undefined;
  for (const param of ["max_completion_tokens", "max_tokens"] as const) {
    const v = body[param];
    if (v === undefined || v === null) continue;
    if (!isPositiveInt(v)) {
      return fail(
        invalidRequest(
          `Invalid '${param}': expected an integer >= 1, but got ${JSON.stringify(v)} instead.`,
          param,
          "invalid_value",
        ),
      );
    }
    maxTokens ??= v;
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    return fail(
      invalidRequest(
        `Invalid type for 'stream': expected a boolean, but got ${typeName(body.stream)} instead.`,
        "stream",
        "invalid_type",
      ),
    );
  }
  const { tools } = body;
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) {
    return fail(
      invalidRequest(
        `Invalid type for 'tools': expected an array, but got ${typeName(tools)} instead.`,
        "tools",
        "invalid_type",
      ),
    );
  }
  const hasTools = Array.isArray(tools) && tools.length > 0;
  const streamOptions = body.stream_options;
  return {
    ok: true,
    value: {
      model: body.model,
      messages,
      maxTokens,
      stream: body.stream === true,
      includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
      toolsAllowed: hasTools && body.tool_choice !== "none",
      toolsText: hasTools ? JSON.stringify(tools) : "",
      tools,
      responseFormat: body.response_format,
    },
  };
}

export interface EmbeddingsRequest {
  model: string;
  /** Strings, or token-id arrays (which the API also accepts). */
  inputs: (string | number[])[];
  dimensions: number;
  base64: boolean;
}

export const DEFAULT_EMBEDDING_DIMENSIONS = 64;
const MAX_EMBEDDING_DIMENSIONS = 4096;

export function parseEmbeddings(body: unknown): Parsed<EmbeddingsRequest> {
  if (!isRecord(body)) return fail(invalidRequest("The request body must be a JSON object."));
  if (typeof body.model !== "string" || body.model === "") {
    return fail(invalidRequest("you must provide a model parameter", "model"));
  }
  const inputs = embeddingInputs(body.input);
  if (!inputs) {
    return fail(
      invalidRequest(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        "input",
      ),
    );
  }
  const { dimensions } = body;
  if (
    dimensions !== undefined &&
    dimensions !== null &&
    !(isPositiveInt(dimensions) && dimensions <= MAX_EMBEDDING_DIMENSIONS)
  ) {
    return fail(
      invalidRequest(
        `Invalid 'dimensions': expected an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}.`,
        "dimensions",
        "invalid_value",
      ),
    );
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") {
    return fail(
      invalidRequest(
        `Invalid value: '${String(format)}'. Supported values are: 'float' and 'base64'.`,
        "encoding_format",
        "invalid_value",
      ),
    );
  }
  return {
    ok: true,
    value: {
      model: body.model,
      inputs,
      dimensions: typeof dimensions === "number" ? dimensions : DEFAULT_EMBEDDING_DIMENSIONS,
      base64: format === "base64",
    },
  };
}

/** string | string[] | number[] | number[][], non-empty throughout. */
function embeddingInputs(input: unknown): (string | number[])[] | undefined {
  if (typeof input === "string") return input ? [input] : undefined;
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every(isTokenId)) return [input as number[]];
  const out: (string | number[])[] = [];
  for (const item of input) {
    if (typeof item === "string" && item) out.push(item);
    else if (Array.isArray(item) && item.length > 0 && item.every(isTokenId)) out.push(item);
    else return undefined;
  }
  return out;
}

function isTokenId(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function fail<T>(error: OpenAIErrorInfo): Parsed<T> {
  return { ok: false, error };
}
