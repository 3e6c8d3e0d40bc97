import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FinishReason,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
  SharedV3Warning,
} from "@ai-sdk/provider";
import type { ChatCompletionChunk, ChatTransport } from "../chat/types.js";
import { contentOf, finishReasonOf, toChatBody, usageOf } from "./convert.js";

/**
 * A language model of the AI SDK (specification v3, what `ai` 6 calls) over a chat
 * transport: the journal inside an agent, the gateway's HTTP endpoint outside one.
 */
export class OutlastLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = "v3" as const;
  readonly provider = "outlast";
  readonly supportedUrls = {};

  constructor(
    readonly modelId: string,
    private readonly transport: ChatTransport,
  ) {}

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const { body, warnings } = toChatBody(this.modelId, options);
    const completion = await this.transport.complete(body, options.abortSignal);
    return {
      content: contentOf(completion),
      finishReason: finishReasonOf(completion.choices[0]?.finish_reason),
      usage: usageOf(completion.usage),
      warnings,
      request: { body },
      response: { id: completion.id, modelId: completion.model, body: completion },
    };
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const { body, warnings } = toChatBody(this.modelId, options);
    const chunks = await this.transport.stream(body, options.abortSignal);
    return { stream: toParts(chunks, warnings), request: { body } };
  }
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

/** Chat-completion chunks → the specification's stream parts. */
function toParts(
  chunks: AsyncIterable<ChatCompletionChunk>,
  warnings: SharedV3Warning[],
): ReadableStream<LanguageModelV3StreamPart> {
  const iterator = chunks[Symbol.asyncIterator]();
  let started = false;
  let textOpen = false;
  let done = false;
  const calls = new Map<number, PendingCall>();
  let finish: LanguageModelV3FinishReason = finishReasonOf(undefined);
  let usage: LanguageModelV3Usage = usageOf(undefined);
  const closeAll = (c: ReadableStreamDefaultController<LanguageModelV3StreamPart>) => {
    if (textOpen) c.enqueue({ type: "text-end", id: "text" });
    textOpen = false;
    for (const call of calls.values()) {
      c.enqueue({ type: "tool-input-end", id: call.id });
      c.enqueue({
        type: "tool-call",
        toolCallId: call.id,
        toolName: call.name,
        input: call.args || "{}",
      });
    }
    calls.clear();
  };
  return new ReadableStream<LanguageModelV3StreamPart>({
    start(c) {
      c.enqueue({ type: "stream-start", warnings });
    },
    async pull(c) {
      if (done) return;
      let next: IteratorResult<ChatCompletionChunk>;
      try {
        next = await iterator.next();
      } catch (error) {
        done = true;
        c.enqueue({ type: "error", error });
        c.close();
        return;
      }
      if (next.done) {
        done = true;
        closeAll(c);
        c.enqueue({ type: "finish", finishReason: finish, usage });
        c.close();
        return;
      }
      const chunk = next.value;
      if (!started) {
        started = true;
        c.enqueue({ type: "response-metadata", id: chunk.id, modelId: chunk.model });
      }
      if (chunk.usage) usage = usageOf(chunk.usage);
      const choice = chunk.choices[0];
      if (!choice) return;
      const text = choice.delta.content;
      if (text) {
        if (!textOpen) c.enqueue({ type: "text-start", id: "text" });
        textOpen = true;
        c.enqueue({ type: "text-delta", id: "text", delta: text });
      }
      for (const t of choice.delta.tool_calls ?? []) {
        let call = calls.get(t.index);
        if (!call) {
          call = { id: t.id ?? `call_${t.index}`, name: t.function?.name ?? "", args: "" };
          calls.set(t.index, call);
          c.enqueue({ type: "tool-input-start", id: call.id, toolName: call.name });
        }
        const piece = t.function?.arguments;
        if (piece) {
          call.args += piece;
          c.enqueue({ type: "tool-input-delta", id: call.id, delta: piece });
        }
      }
      if (choice.finish_reason) {
        finish = finishReasonOf(choice.finish_reason);
        closeAll(c);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
