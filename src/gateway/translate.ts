/**
 * Non-streaming translation between the two wire formats, so an alias may fail over from
 * an OpenAI-compatible target to an Anthropic one (and `ctx.llm`, which speaks OpenAI's
 * format, may use Claude). Text, system prompts, tools and tool results map one to one;
 * images and other media are not translated. Streams are passed through only when the
 * caller and the target speak the same format.
 */
type Obj = Record<string, unknown>;

/** Anthropic requires max_tokens; OpenAI's default is "as long as the context allows". */
const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

function text(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        p && typeof p === "object" && typeof (p as Obj).text === "string" ? (p as Obj).text : "",
      )
      .filter(Boolean)
      .join("\n");
  }
  return "";
}

function parseArgs(s: unknown): unknown {
  if (typeof s !== "string") return s ?? {};
  try {
    return JSON.parse(s);
  } catch {
    return {};
  }
}

const OPENAI_FINISH: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
};
const ANTHROPIC_STOP: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "end_turn",
};

export function openaiToAnthropicRequest(body: Obj, model: string): Obj {
  const system: string[] = [];
  const messages: { role: string; content: Obj[] }[] = [];
  const push = (role: string, blocks: Obj[]) => {
    const last = messages.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of (body.messages as Obj[] | undefined) ?? []) {
    const role = m.role;
    if (role === "system" || role === "developer") {
      system.push(text(m.content));
    } else if (role === "tool") {
      push("user", [
        { type: "tool_result", tool_use_id: m.tool_call_id, content: text(m.content) },
      ]);
    } else if (role === "assistant") {
      const blocks: Obj[] = [];
      const t = text(m.content);
      if (t) blocks.push({ type: "text", text: t });
      for (const c of (m.tool_calls as Obj[] | undefined) ?? []) {
        const fn = c.function as Obj | undefined;
        blocks.push({
          type: "tool_use",
          id: c.id,
          name: fn?.name,
          input: parseArgs(fn?.arguments),
        });
      }
      push("assistant", blocks);
    } else {
      push("user", [{ type: "text", text: text(m.content) }]);
    }
  }
  const out: Obj = {
    model,
    messages,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS,
  };
  if (system.length > 0) out.system = system.join("\n");
  for (const k of ["temperature", "top_p"]) if (body[k] !== undefined) out[k] = body[k];
  if (body.stop !== undefined && body.stop !== null) {
    out.stop_sequences = Array.isArray(body.stop) ? body.stop : [body.stop];
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    out.tools = (body.tools as Obj[]).map((t) => {
      const fn = (t.function ?? {}) as Obj;
      return {
        name: fn.name,
        ...(fn.description ? { description: fn.description } : {}),
        input_schema: fn.parameters ?? { type: "object", properties: {} },
      };
    });
    const tc = body.tool_choice;
    if (tc === "required") out.tool_choice = { type: "any" };
    else if (tc === "none") out.tool_choice = { type: "none" };
    else if (tc && typeof tc === "object") {
      out.tool_choice = { type: "tool", name: ((tc as Obj).function as Obj | undefined)?.name };
    }
  }
  return out;
}

export function anthropicToOpenaiResponse(msg: Obj, requested: string): Obj {
  const blocks = (msg.content as Obj[] | undefined) ?? [];
  const content = blocks
    .filter((b) => b.type === "text")
    .map((b) => b.text as string)
    .join("");
  const toolCalls = blocks
    .filter((b) => b.type === "tool_use")
    .map((b) => ({
      id: b.id,
      type: "function",
      function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
    }));
  const u = (msg.usage ?? {}) as Obj;
  const read = Number(u.cache_read_input_tokens ?? 0);
  const input = Number(u.input_tokens ?? 0) + read + Number(u.cache_creation_input_tokens ?? 0);
  const output = Number(u.output_tokens ?? 0);
  return {
    id: msg.id,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: requested,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: content === "" && toolCalls.length > 0 ? null : content,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: OPENAI_FINISH[String(msg.stop_reason)] ?? "stop",
      },
    ],
    usage: {
      prompt_tokens: input,
      completion_tokens: output,
      total_tokens: input + output,
      prompt_tokens_details: { cached_tokens: read },
    },
  };
}

export function anthropicToOpenaiRequest(body: Obj, model: string): Obj {
  const messages: Obj[] = [];
  const system = text(body.system);
  if (system) messages.push({ role: "system", content: system });
  for (const m of (body.messages as Obj[] | undefined) ?? []) {
    const blocks: Obj[] =
      typeof m.content === "string"
        ? [{ type: "text", text: m.content }]
        : ((m.content as Obj[]) ?? []);
    if (m.role === "assistant") {
      const toolCalls = blocks
        .filter((b) => b.type === "tool_use")
        .map((b) => ({
          id: b.id,
          type: "function",
          function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
        }));
      messages.push({
        role: "assistant",
        content: text(blocks.filter((b) => b.type === "text")) || null,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      });
      continue;
    }
    for (const b of blocks.filter((x) => x.type === "tool_result")) {
      messages.push({ role: "tool", tool_call_id: b.tool_use_id, content: text(b.content) });
    }
    const t = text(blocks.filter((b) => b.type === "text"));
    if (t) messages.push({ role: "user", content: t });
  }
  const out: Obj = { model, messages, max_tokens: body.max_tokens };
  for (const k of ["temperature", "top_p"]) if (body[k] !== undefined) out[k] = body[k];
  if (Array.isArray(body.stop_sequences)) out.stop = body.stop_sequences;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    out.tools = (body.tools as Obj[]).map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.input_schema ?? { type: "object", properties: {} },
      },
    }));
    const tc = body.tool_choice as Obj | undefined;
    if (tc?.type === "any") out.tool_choice = "required";
    else if (tc?.type === "none") out.tool_choice = "none";
    else if (tc?.type === "tool")
      out.tool_choice = { type: "function", function: { name: tc.name } };
  }
  return out;
}

export function openaiToAnthropicResponse(res: Obj, requested: string): Obj {
  const choice = ((res.choices as Obj[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message ?? {}) as Obj;
  const content: Obj[] = [];
  const t = text(message.content);
  if (t) content.push({ type: "text", text: t });
  for (const c of (message.tool_calls as Obj[] | undefined) ?? []) {
    const fn = c.function as Obj | undefined;
    content.push({ type: "tool_use", id: c.id, name: fn?.name, input: parseArgs(fn?.arguments) });
  }
  if (content.length === 0) content.push({ type: "text", text: "" });
  const u = (res.usage ?? {}) as Obj;
  const cached = Number((u.prompt_tokens_details as Obj | undefined)?.cached_tokens ?? 0);
  return {
    id: res.id,
    type: "message",
    role: "assistant",
    model: requested,
    content,
    stop_reason: ANTHROPIC_STOP[String(choice.finish_reason)] ?? "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: Number(u.prompt_tokens ?? 0) - cached,
      cache_read_input_tokens: cached,
      cache_creation_input_tokens: 0,
      output_tokens: Number(u.completion_tokens ?? 0),
    },
  };
}
