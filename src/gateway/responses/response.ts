/**
 * A chat completion → OpenAI's Responses API `response` object: the message's text as an
 * `output_text` part, each tool call as a `function_call` item, usage in the Responses
 * names, `incomplete` when the model stopped at its token bound.
 */
type Obj = Record<string, unknown>;

/** The fields of a response the request decides (echoed back, as OpenAI does). */
export function echoed(req: Obj): Obj {
  return {
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    metadata: req.metadata ?? {},
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: req.temperature ?? 1,
    text: req.text ?? { format: { type: "text" } },
    tool_choice: req.tool_choice ?? "auto",
    tools: req.tools ?? [],
    top_p: req.top_p ?? 1,
    truncation: "disabled",
    user: req.user ?? null,
  };
}

export function responsesUsage(input: number, output: number, cached: number): Obj {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

/** An id in OpenAI's style from the upstream one (`chatcmpl-x` → `resp_x`). */
export function idFrom(prefix: string, upstream: unknown): string {
  const s = typeof upstream === "string" ? upstream.replace(/^[a-z]+[-_]/, "") : "";
  return `${prefix}${s || Math.random().toString(36).slice(2)}`;
}

export function messageItem(id: string, text: string, status = "completed"): Obj {
  return {
    type: "message",
    id,
    status,
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

export function functionCallItem(id: string, callId: string, name: string, args: string): Obj {
  return { type: "function_call", id, call_id: callId, name, arguments: args, status: "completed" };
}

/** The Responses object for a chat completion answered to `req`. */
export function chatToResponse(chat: Obj, req: Obj): Obj {
  const choice = ((chat.choices as Obj[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message ?? {}) as Obj;
  const id = idFrom("resp_", chat.id);
  const output: Obj[] = [];
  const calls = (message.tool_calls as Obj[] | undefined) ?? [];
  const text = typeof message.content === "string" ? message.content : "";
  // A message item unless the answer is tool calls alone (an empty answer is a message).
  if (text !== "" || calls.length === 0) output.push(messageItem(idFrom("msg_", chat.id), text));
  for (const [i, c] of calls.entries()) {
    const fn = (c.function ?? {}) as Obj;
    output.push(
      functionCallItem(
        `fc_${i}_${id.slice(5)}`,
        String(c.id ?? ""),
        String(fn.name ?? ""),
        String(fn.arguments ?? "{}"),
      ),
    );
  }
  const u = (chat.usage ?? {}) as Obj;
  const cached = Number((u.prompt_tokens_details as Obj | undefined)?.cached_tokens ?? 0);
  const incomplete = choice.finish_reason === "length";
  return {
    id,
    object: "response",
    created_at: Number(chat.created ?? Math.floor(Date.now() / 1000)),
    status: incomplete ? "incomplete" : "completed",
    error: null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    model: req.model,
    output,
    usage: responsesUsage(Number(u.prompt_tokens ?? 0), Number(u.completion_tokens ?? 0), cached),
    ...echoed(req),
  };
}
