import OpenAI from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { CallGuard } from "./call-limits.ts";
import { ModelError } from "./errors.ts";
import {
  estimateRequestTokens,
  estimateTokens,
  type FinishReason,
  type LanguageModel,
  type ModelRequest,
  type ModelResponse,
  type StreamHandlers,
  sanitizedArguments,
} from "./model.ts";
import { ToolCallAssembler, uniqueCalls } from "./openai-tool-calls.ts";

/**
 * OpenAI Chat Completions through the `openai` SDK, and any OpenAI-compatible server (Ollama, vLLM, LiteLLM) by
 * base URL. `compatible` switches on the tolerances those servers need: `max_tokens` instead of
 * `max_completion_tokens`, no reliance on `tool_choice`, usage possibly missing.
 */
export interface OpenAIModelOptions {
  provider: string;
  model: string;
  apiKey: string;
  baseURL?: string;
  compatible?: boolean;
  stream?: boolean;
  /** Ask for a final usage chunk when streaming (some older compatible servers refuse the field). */
  includeUsage?: boolean;
  maxRetries?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class OpenAIChatModel implements LanguageModel {
  readonly provider: string;
  readonly modelId: string;
  readonly streams: boolean;
  private readonly client: OpenAI;
  private readonly compatible: boolean;
  private readonly includeUsage: boolean;

  constructor(options: OpenAIModelOptions) {
    this.provider = options.provider;
    this.modelId = options.model;
    this.streams = options.stream ?? true;
    this.compatible = options.compatible ?? false;
    this.includeUsage = options.includeUsage ?? true;
    // Every option the SDK would otherwise read from process.env is passed explicitly.
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? "https://api.openai.com/v1",
      organization: null,
      project: null,
      webhookSecret: null,
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
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    const guard = new CallGuard(this.provider, request, { streaming: false });
    try {
      completion = await this.client.chat.completions.create(
        { ...this.params(request), stream: false },
        { signal: guard.signal },
      );
      const message = completion.choices?.[0]?.message;
      guard.received(`${message?.content ?? ""}${JSON.stringify(message?.tool_calls ?? [])}`);
    } catch (error) {
      throw guard.failure(error);
    } finally {
      guard.done();
    }
    const choice = completion.choices?.[0];
    if (!choice) throw new ModelError("invalid_response", `${this.provider}: the response has no choices`);
    const message = choice.message;
    const calls = uniqueCalls(
      (message.tool_calls ?? []).flatMap((call) => {
        if (call.type !== "function" && call.type !== undefined) return [];
        const fn = (call as { function?: { name?: string; arguments?: unknown } }).function;
        if (!fn?.name) return [];
        const args = typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments ?? {});
        return [{ id: call.id, name: fn.name, arguments: args }];
      }),
    );
    const text = message.content ?? message.refusal ?? "";
    return this.response(request, text, calls, choice.finish_reason, completion.usage);
  }

  private async streamed(request: ModelRequest, handlers: StreamHandlers): Promise<ModelResponse> {
    let text = "";
    let finish: string | null | undefined;
    let usage: OpenAI.Completions.CompletionUsage | undefined;
    const assembler = new ToolCallAssembler();
    const guard = new CallGuard(this.provider, request, { streaming: true });
    try {
      const chunks = await this.client.chat.completions.create(
        {
          ...this.params(request),
          stream: true,
          ...(this.includeUsage ? { stream_options: { include_usage: true } } : {}),
        },
        { signal: guard.signal },
      );
      // Leaving the loop (the cap throws inside it) closes the SDK's stream: nothing more is read.
      for await (const chunk of chunks as AsyncIterable<ChatCompletionChunk>) {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        guard.received(choice === undefined ? "" : answerText(choice.delta));
        if (!choice) continue;
        const delta = choice.delta ?? {};
        if (typeof delta.content === "string" && delta.content !== "") {
          text += delta.content;
          handlers.onTextDelta?.(delta.content);
        }
        if (typeof delta.refusal === "string") text += delta.refusal;
        if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) {
          const first = !assembler.started;
          for (const call of delta.tool_calls) assembler.add(call);
          if (first) handlers.onToolCallStart?.();
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      guard.throwIfEnded();
    } catch (error) {
      throw guard.failure(error);
    } finally {
      guard.done();
    }
    return this.response(request, text, assembler.finish(), finish, usage);
  }

  private params(request: ModelRequest): ChatCompletionCreateParamsBase {
    const messages: ChatCompletionMessageParam[] = [];
    if (request.system !== "") messages.push({ role: "system", content: request.system });
    for (const message of request.messages) {
      if (message.role === "user") messages.push({ role: "user", content: message.content });
      else if (message.role === "tool") {
        messages.push({ role: "tool", tool_call_id: message.callId, content: message.content });
      } else if (message.toolCalls && message.toolCalls.length > 0) {
        messages.push({
          role: "assistant",
          content: message.content === "" ? null : message.content,
          tool_calls: message.toolCalls.map((call) => ({
            id: call.id,
            type: "function" as const,
            function: { name: call.name, arguments: sanitizedArguments(call.arguments) },
          })),
        });
      } else messages.push({ role: "assistant", content: message.content });
    }
    const params: ChatCompletionCreateParamsBase = { model: this.modelId, messages };
    if (request.tools.length > 0) {
      params.tools = request.tools.map((tool) => ({
        type: "function" as const,
        function: { name: tool.name, description: tool.description, parameters: tool.parameters },
      }));
    }
    if (request.maxOutputTokens !== undefined) {
      if (this.compatible) params.max_tokens = request.maxOutputTokens;
      else params.max_completion_tokens = request.maxOutputTokens;
    }
    if (request.temperature !== undefined) params.temperature = request.temperature;
    return params;
  }

  private response(
    request: ModelRequest,
    text: string,
    toolCalls: ModelResponse["toolCalls"],
    finish: string | null | undefined,
    usage: OpenAI.Completions.CompletionUsage | undefined,
  ): ModelResponse {
    const response: ModelResponse = {
      text,
      toolCalls,
      // Ollama answers `stop` even when it called tools: the calls are what matter.
      finishReason: toolCalls.length > 0 ? "tool_calls" : finishReason(finish),
      usage: {
        inputTokens: usage?.prompt_tokens ?? estimateRequestTokens(request),
        outputTokens:
          usage?.completion_tokens ??
          estimateTokens(text + toolCalls.map((call) => call.name + call.arguments).join("")),
      },
    };
    if (usage === undefined) response.usageEstimated = true;
    return response;
  }
}

/** The part of a stream delta that counts against the output cap: text, refusal and tool-call fragments. */
function answerText(delta: ChatCompletionChunk.Choice.Delta | undefined): string {
  if (delta === undefined) return "";
  let text = (delta.content ?? "") + (delta.refusal ?? "");
  for (const call of delta.tool_calls ?? []) text += (call.function?.name ?? "") + (call.function?.arguments ?? "");
  return text;
}

function finishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "stop":
    case "length":
    case "content_filter":
      return reason;
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case null:
    case undefined:
      return "stop";
    default:
      return "other";
  }
}
