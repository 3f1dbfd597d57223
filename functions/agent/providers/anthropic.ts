import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  RawMessageStreamEvent,
} from "@anthropic-ai/sdk/resources/messages/messages";
import { CallGuard } from "./call-limits.ts";
import { ModelError } from "./errors.ts";
import {
  argumentsObject,
  type FinishReason,
  type LanguageModel,
  type ModelMessage,
  type ModelRequest,
  type ModelResponse,
  type ModelToolCall,
  type StreamHandlers,
} from "./model.ts";

/**
 * Anthropic Messages through `@anthropic-ai/sdk`. The neutral conversation maps onto Anthropic's shape: the system
 * prompt is a parameter, tool results travel as `tool_result` blocks in the next user turn (every `tool_use` answered,
 * or the next call fails), consecutive turns of one role are merged, and empty text blocks are never sent.
 */
export interface AnthropicModelOptions {
  model: string;
  apiKey: string;
  baseURL?: string;
  stream?: boolean;
  maxRetries?: number;
  timeoutMs?: number;
  /** Anthropic requires max_tokens on every call. */
  defaultMaxOutputTokens?: number;
  fetch?: typeof fetch;
}

export class AnthropicMessagesModel implements LanguageModel {
  readonly provider = "anthropic";
  readonly modelId: string;
  readonly streams: boolean;
  private readonly client: Anthropic;
  private readonly defaultMaxOutputTokens: number;

  constructor(options: AnthropicModelOptions) {
    this.modelId = options.model;
    this.streams = options.stream ?? true;
    this.defaultMaxOutputTokens = options.defaultMaxOutputTokens ?? 4096;
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? "https://api.anthropic.com",
      maxRetries: options.maxRetries ?? 2,
      timeout: options.timeoutMs ?? 120_000,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  generate(request: ModelRequest): Promise<ModelResponse> {
    return this.streams ? this.streamed(request, {}) : this.complete(request);
  }

  stream(request: ModelRequest, handlers: StreamHandlers): Promise<ModelResponse> {
    return this.streams ? this.streamed(request, handlers) : this.complete(request);
  }

  private async complete(request: ModelRequest): Promise<ModelResponse> {
    const guard = new CallGuard(this.provider, request, { streaming: false });
    try {
      const message = await this.client.messages.create(
        { ...this.params(request), stream: false },
        { signal: guard.signal },
      );
      guard.received(JSON.stringify(message.content));
      let text = "";
      const calls: ModelToolCall[] = [];
      for (const block of message.content) {
        if (block.type === "text") text += block.text;
        else if (block.type === "tool_use")
          calls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input ?? {}) });
      }
      return {
        text,
        toolCalls: calls,
        finishReason: calls.length > 0 ? "tool_calls" : stopReason(message.stop_reason),
        usage: { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens },
      };
    } catch (error) {
      throw guard.failure(error);
    } finally {
      guard.done();
    }
  }

  private async streamed(request: ModelRequest, handlers: StreamHandlers): Promise<ModelResponse> {
    const blocks = new Map<number, { type: "text" | "tool_use" | "other"; text: string; id: string; name: string }>();
    let stop: string | null | undefined;
    let inputTokens = 0;
    let outputTokens = 0;
    let toolStarted = false;
    const guard = new CallGuard(this.provider, request, { streaming: true });
    try {
      const events = await this.client.messages.create(
        { ...this.params(request), stream: true },
        { signal: guard.signal },
      );
      // Leaving the loop (the cap throws inside it) closes the SDK's stream: nothing more is read.
      for await (const event of events as AsyncIterable<RawMessageStreamEvent>) {
        guard.received(
          event.type !== "content_block_delta"
            ? ""
            : event.delta.type === "text_delta"
              ? event.delta.text
              : event.delta.type === "input_json_delta"
                ? event.delta.partial_json
                : "",
        );
        switch (event.type) {
          case "message_start":
            inputTokens = event.message.usage.input_tokens;
            outputTokens = event.message.usage.output_tokens;
            break;
          case "content_block_start": {
            const block = event.content_block;
            if (block.type === "text") blocks.set(event.index, { type: "text", text: block.text, id: "", name: "" });
            else if (block.type === "tool_use") {
              blocks.set(event.index, { type: "tool_use", text: "", id: block.id, name: block.name });
              if (!toolStarted) {
                toolStarted = true;
                handlers.onToolCallStart?.();
              }
            } else blocks.set(event.index, { type: "other", text: "", id: "", name: "" });
            break;
          }
          case "content_block_delta": {
            const block = blocks.get(event.index);
            if (!block) throw new ModelError("invalid_response", "anthropic: delta for a block that never started");
            if (event.delta.type === "text_delta") {
              block.text += event.delta.text;
              handlers.onTextDelta?.(event.delta.text);
            } else if (event.delta.type === "input_json_delta") block.text += event.delta.partial_json;
            break;
          }
          case "message_delta":
            stop = event.delta.stop_reason;
            // message_delta usage is cumulative.
            outputTokens = event.usage.output_tokens ?? outputTokens;
            if (typeof event.usage.input_tokens === "number") inputTokens = event.usage.input_tokens;
            break;
          default:
            break;
        }
      }
      guard.throwIfEnded();
    } catch (error) {
      throw guard.failure(error);
    } finally {
      guard.done();
    }
    let text = "";
    const calls: ModelToolCall[] = [];
    for (const index of [...blocks.keys()].sort((a, b) => a - b)) {
      const block = blocks.get(index)!;
      if (block.type === "text") text += block.text;
      else if (block.type === "tool_use")
        calls.push({ id: block.id, name: block.name, arguments: block.text === "" ? "{}" : block.text });
    }
    return {
      text,
      toolCalls: calls,
      finishReason: calls.length > 0 ? "tool_calls" : stopReason(stop),
      usage: { inputTokens, outputTokens },
    };
  }

  private params(request: ModelRequest): MessageCreateParamsBase {
    const params: MessageCreateParamsBase = {
      model: this.modelId,
      max_tokens: request.maxOutputTokens ?? this.defaultMaxOutputTokens,
      messages: toAnthropicMessages(request.messages),
    };
    if (request.system !== "") params.system = request.system;
    if (request.tools.length > 0) {
      params.tools = request.tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        input_schema: tool.parameters as { type: "object"; [key: string]: unknown },
      }));
    }
    // The Messages API of this SDK generation has no temperature parameter; the request's is not sent.
    return params;
  }
}

export function toAnthropicMessages(messages: readonly ModelMessage[]): MessageParam[] {
  const out: Array<{ role: "user" | "assistant"; content: ContentBlockParam[] }> = [];
  const push = (role: "user" | "assistant", blocks: ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === "user") {
      push("user", message.content === "" ? [] : [{ type: "text", text: message.content }]);
    } else if (message.role === "tool") {
      push("user", [
        {
          type: "tool_result",
          tool_use_id: message.callId,
          content: message.content === "" ? "(empty)" : message.content,
          is_error: message.isError,
        },
      ]);
    } else {
      const blocks: ContentBlockParam[] = [];
      if (message.content !== "") blocks.push({ type: "text", text: message.content });
      for (const call of message.toolCalls ?? []) {
        blocks.push({ type: "tool_use", id: call.id, name: call.name, input: argumentsObject(call.arguments) });
      }
      push("assistant", blocks);
    }
  }
  // Tool results must come first in their user turn: move them ahead of any text merged into the same turn.
  for (const turn of out) {
    if (turn.role === "user") {
      turn.content.sort((a, b) => Number(b.type === "tool_result") - Number(a.type === "tool_result"));
    }
  }
  return out;
}

function stopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
    case null:
    case undefined:
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "refusal";
    default:
      return "other";
  }
}
