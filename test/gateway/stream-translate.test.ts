/**
 * The stream translator on its own, event by event: text and several tool calls in one
 * answer, both ways, with the caller's indexes, stop reasons and usage.
 */
import { expect, test } from "vitest";
import { streamTranslator } from "../../src/gateway/formats/translate-stream.js";

type Obj = Record<string, unknown>;

/** Feeds (event, data) pairs; returns the caller's events as [name, json]. */
function run(t: ReturnType<typeof streamTranslator>, events: [string, unknown][]): [string, Obj][] {
  let out = "";
  for (const [e, d] of events) out += t(e, typeof d === "string" ? d : JSON.stringify(d));
  return out
    .split("\n\n")
    .filter(Boolean)
    .map((block) => {
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? "";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "";
      return [name, data === "[DONE]" ? { done: true } : (JSON.parse(data) as Obj)];
    });
}

const chunk = (delta: Obj, finish: string | null = null, usage?: Obj) => [
  "",
  { id: "chatcmpl-1", choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], usage },
];

test("OpenAI → Anthropic: a text block, then one tool_use block per call, arguments as input_json_delta", () => {
  const t = streamTranslator("openai", "anthropic", { model: "fast", includeUsage: false });
  const out = run(t, [
    chunk({ role: "assistant", content: "" }),
    chunk({ content: "Let me " }),
    chunk({ content: "check." }),
    chunk({ tool_calls: [{ index: 0, id: "call_a", function: { name: "f", arguments: "" } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
    chunk({ tool_calls: [{ index: 1, id: "call_b", function: { name: "g", arguments: "{}" } }] }),
    chunk({}, "tool_calls"),
    chunk({}, null, {
      prompt_tokens: 20,
      completion_tokens: 9,
      prompt_tokens_details: { cached_tokens: 4 },
    }),
    ["", "[DONE]"],
  ] as [string, unknown][]);
  expect(out.map(([name]) => name)).toEqual([
    "message_start",
    "ping",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
  expect(out[6]?.[1]).toMatchObject({
    index: 1,
    content_block: { type: "tool_use", id: "call_a", name: "f", input: {} },
  });
  expect(out[8]?.[1]).toMatchObject({ index: 1, delta: { partial_json: "1}" } });
  expect(out[10]?.[1]).toMatchObject({ index: 2, content_block: { id: "call_b", name: "g" } });
  expect(out[13]?.[1]).toMatchObject({
    delta: { stop_reason: "tool_use" },
    usage: { input_tokens: 16, cache_read_input_tokens: 4, output_tokens: 9 },
  });
});

test("Anthropic → OpenAI: tool calls indexed from 0 past a text block; usage chunk only when asked", () => {
  const events: [string, unknown][] = [
    ["message_start", { message: { id: "msg_1", usage: { input_tokens: 30, output_tokens: 1 } } }],
    ["content_block_start", { index: 0, content_block: { type: "text", text: "" } }],
    ["content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hi" } }],
    ["content_block_stop", { index: 0 }],
    [
      "content_block_start",
      { index: 1, content_block: { type: "tool_use", id: "toolu_a", name: "f" } },
    ],
    [
      "content_block_delta",
      { index: 1, delta: { type: "input_json_delta", partial_json: '{"x":1}' } },
    ],
    ["content_block_stop", { index: 1 }],
    [
      "content_block_start",
      { index: 2, content_block: { type: "tool_use", id: "toolu_b", name: "g" } },
    ],
    ["content_block_stop", { index: 2 }],
    ["message_delta", { delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } }],
    ["message_delta", { delta: {}, usage: { output_tokens: 12 } }],
    ["message_stop", {}],
  ];
  const asked = run(
    streamTranslator("anthropic", "openai", { model: "fast", includeUsage: true }),
    events,
  ).map(([, d]) => d);
  const deltas = asked.map((c) => ((c.choices as Obj[] | undefined)?.[0]?.delta ?? {}) as Obj);
  expect(deltas[1]).toEqual({ content: "Hi" });
  expect(deltas[2]).toMatchObject({
    tool_calls: [{ index: 0, id: "toolu_a", function: { name: "f" } }],
  });
  expect(deltas[3]).toEqual({ tool_calls: [{ index: 0, function: { arguments: '{"x":1}' } }] });
  expect(deltas[4]).toMatchObject({ tool_calls: [{ index: 1, id: "toolu_b" }] });
  expect(asked[5]).toMatchObject({ choices: [{ finish_reason: "tool_calls" }] });
  // Output is cumulative in message_delta: the last value, never the sum.
  expect(asked[6]).toMatchObject({
    choices: [],
    usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 },
  });
  expect(asked[7]).toEqual({ done: true });

  const notAsked = run(
    streamTranslator("anthropic", "openai", { model: "fast", includeUsage: false }),
    events,
  ).map(([, d]) => d);
  expect(notAsked.some((c) => "usage" in c)).toBe(false);
  expect(notAsked).toHaveLength(asked.length - 1);
});
