/**
 * OpenAI's Responses API request → a chat-completions body the gateway routes like any
 * other (to either wire format). Stateless only: the gateway keeps no responses, so
 * `previous_response_id` and `conversation` are refused with a 400 that says so, and
 * `store` is answered as `false`. Function tools translate one to one; built-in tools
 * (web search, file search, computer use…) exist only at OpenAI and are refused.
 */
import { GatewayError } from "../errors.js";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const invalid = (message: string, param?: string) =>
  new GatewayError(400, "OUTLAST_GATEWAY_INVALID_REQUEST", message, param ? { param } : {});

export const NO_STORED_RESPONSES =
  "the gateway keeps no responses: send the whole conversation in `input` instead of previous_response_id or conversation";

/** Text of a Responses content value: a string, or parts with `text`. */
function partsText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((p) => (isObj(p) && typeof p.text === "string" ? p.text : ""))
    .filter(Boolean)
    .join("\n");
}

function outputText(output: unknown): string {
  return typeof output === "string" ? output : partsText(output) || JSON.stringify(output ?? "");
}

/** `input` items → chat messages; consecutive function calls join one assistant message. */
function messagesOf(input: unknown, instructions: unknown): Obj[] {
  const messages: Obj[] = [];
  if (typeof instructions === "string" && instructions !== "") {
    messages.push({ role: "system", content: instructions });
  }
  if (typeof input === "string") {
    messages.push({ role: "user", content: input });
    return messages;
  }
  if (!Array.isArray(input)) throw invalid("input must be a string or an array of items", "input");
  for (const [i, item] of input.entries()) {
    if (!isObj(item)) throw invalid(`input[${i}] must be an object`, `input[${i}]`);
    const type = item.type ?? "message";
    if (type === "message") {
      const role = item.role;
      if (role !== "user" && role !== "assistant" && role !== "system" && role !== "developer") {
        throw invalid(
          `input[${i}].role must be user, assistant, system or developer`,
          `input[${i}].role`,
        );
      }
      messages.push({ role, content: partsText(item.content) });
    } else if (type === "function_call") {
      const call = {
        id: String(item.call_id ?? item.id ?? ""),
        type: "function",
        function: { name: String(item.name ?? ""), arguments: String(item.arguments ?? "{}") },
      };
      const last = messages.at(-1);
      if (last?.role === "assistant" && Array.isArray(last.tool_calls)) last.tool_calls.push(call);
      else messages.push({ role: "assistant", content: null, tool_calls: [call] });
    } else if (type === "function_call_output") {
      messages.push({
        role: "tool",
        tool_call_id: String(item.call_id ?? ""),
        content: outputText(item.output),
      });
    } else if (type === "reasoning" || type === "item_reference") {
      // Reasoning summaries are the model's own; references point at stored items (none).
    } else {
      throw new GatewayError(
        400,
        "OUTLAST_GATEWAY_UNSUPPORTED",
        `input[${i}]: items of type "${String(type)}" are not supported by the gateway (messages, function_call and function_call_output are)`,
        { param: `input[${i}].type` },
      );
    }
  }
  return messages;
}

function toolsOf(tools: unknown): Obj[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw invalid("tools must be an array", "tools");
  if (tools.length === 0) return undefined;
  return tools.map((t, i) => {
    if (!isObj(t) || t.type !== "function") {
      throw new GatewayError(
        400,
        "OUTLAST_GATEWAY_UNSUPPORTED",
        `tools[${i}]: only function tools pass through the gateway, not "${String(isObj(t) ? t.type : t)}"`,
        { param: `tools[${i}].type` },
      );
    }
    return {
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.parameters ?? { type: "object", properties: {} },
        ...(t.strict === undefined || t.strict === null ? {} : { strict: t.strict }),
      },
    };
  });
}

function toolChoiceOf(choice: unknown): unknown {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (isObj(choice) && choice.type === "function" && typeof choice.name === "string") {
    return { type: "function", function: { name: choice.name } };
  }
  throw invalid('tool_choice must be "auto", "none", "required" or a function', "tool_choice");
}

function responseFormatOf(text: unknown): unknown {
  const format = isObj(text) ? text.format : undefined;
  if (!isObj(format) || format.type === "text") return undefined;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type === "json_schema") {
    return {
      type: "json_schema",
      json_schema: {
        name: format.name ?? "response",
        schema: format.schema ?? {},
        ...(format.strict === undefined ? {} : { strict: format.strict }),
      },
    };
  }
  throw invalid(`text.format.type "${String(format.type)}" is not supported`, "text.format");
}

/**
 * The chat body for a Responses request, checked. Throws GatewayError (400) naming the
 * field to fix.
 *
 * @example responsesToChat({ model: "fast", input: "hi" })
 * // { model: "fast", messages: [{ role: "user", content: "hi" }], stream: false }
 */
export function responsesToChat(body: Obj): Obj {
  if (typeof body.model !== "string" || body.model === "")
    throw invalid("model is required (an alias or provider/model)", "model");
  for (const k of ["previous_response_id", "conversation"]) {
    if (body[k] !== undefined && body[k] !== null) {
      throw new GatewayError(400, "OUTLAST_GATEWAY_NO_STORED_RESPONSES", NO_STORED_RESPONSES, {
        param: k,
      });
    }
  }
  if (body.input === undefined) throw invalid("input is required", "input");
  const messages = messagesOf(body.input, body.instructions);
  if (messages.length === 0) throw invalid("input must not be empty", "input");
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean")
    throw invalid("stream must be a boolean", "stream");
  const max = body.max_output_tokens;
  if (max !== undefined && max !== null && !(Number.isInteger(max) && (max as number) > 0))
    throw invalid("max_output_tokens must be a positive integer", "max_output_tokens");
  const out: Obj = { model: body.model, messages, stream: body.stream === true };
  if (typeof max === "number") out.max_tokens = max;
  for (const k of ["temperature", "top_p", "parallel_tool_calls"]) {
    if (body[k] !== undefined && body[k] !== null) out[k] = body[k];
  }
  const tools = toolsOf(body.tools);
  if (tools) out.tools = tools;
  const choice = toolChoiceOf(body.tool_choice);
  if (tools && choice !== undefined) out.tool_choice = choice;
  const format = responseFormatOf(body.text);
  if (format) out.response_format = format;
  if (out.stream) out.stream_options = { include_usage: true };
  return out;
}
