/**
 * The one small contract every model provider implements (in the spirit of the Vercel AI SDK's LanguageModel): a
 * provider-neutral conversation in, text + tool calls + finish reason + usage out. The loop never sees a wire format.
 */
export interface ModelTool {
  /** `[a-zA-Z0-9_-]{1,64}`: what every provider accepts. */
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ModelToolCall {
  /** The provider's id for the call, echoed back with its result. */
  id: string;
  name: string;
  /** The arguments exactly as the model wrote them: may be invalid JSON, which the policy gate reports back. */
  arguments: string;
}

export type ModelMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ModelToolCall[] }
  /** The answer to one tool call; every call of an assistant turn gets exactly one, in the next messages. */
  | { role: "tool"; callId: string; name: string; content: string; isError: boolean };

export interface ModelRequest {
  system: string;
  messages: ModelMessage[];
  tools: ModelTool[];
  maxOutputTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  /** How long and how much the call may take (call-limits.ts enforces them in every provider that talks HTTP). */
  limits?: CallLimits;
}

export interface CallLimits {
  /** The whole call, from the request to the last chunk. */
  timeoutMs: number;
  /** The longest silence of a stream (before its first chunk and between chunks): a hung stream ends here. */
  idleTimeoutMs: number;
  /** The most UTF-8 bytes of text and tool-call arguments an answer may have. */
  maxOutputBytes: number;
  /** What is left of the run's wall-clock budget; the call ends with `deadline` when it runs out. */
  deadlineMs?: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "refusal" | "other";

interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelResponse {
  text: string;
  toolCalls: ModelToolCall[];
  finishReason: FinishReason;
  usage: ModelUsage;
  /** True when the provider reported no usage and the numbers are estimates (budgets still need a number). */
  usageEstimated?: boolean;
  /** How long the call took, measured by the agent loop around it (the run's turn log shows it). */
  latencyMs?: number;
}

export interface StreamHandlers {
  /** Text as it arrives. */
  onTextDelta?(delta: string): void;
  /** The model started a tool call: any text so far is a preamble the user may see while tools run. */
  onToolCallStart?(): void;
}

export interface LanguageModel {
  /** `openai`, `anthropic`, `ollama`, `demo`, ...: the part of the model string before the slash. */
  readonly provider: string;
  readonly modelId: string;
  /** Whether `stream` actually streams (otherwise it delegates to generate and calls no handler early). */
  readonly streams: boolean;
  generate(request: ModelRequest): Promise<ModelResponse>;
  stream(request: ModelRequest, handlers: StreamHandlers): Promise<ModelResponse>;
}

/** Rough token estimate (≈4 characters a token) used for context budgets and when a server reports no usage. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimateRequestTokens(request: Pick<ModelRequest, "system" | "messages" | "tools">): number {
  let total = estimateTokens(request.system);
  for (const message of request.messages) {
    total += 4 + estimateTokens(message.content);
    if (message.role === "assistant") {
      for (const call of message.toolCalls ?? []) total += 8 + estimateTokens(call.name + call.arguments);
    }
  }
  for (const tool of request.tools)
    total += 8 + estimateTokens(tool.name + tool.description + JSON.stringify(tool.parameters));
  return total;
}

/** Arguments text as an object for protocols that need one (Anthropic's tool_use.input); malformed -> `{}`. */
export function argumentsObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text === "" ? "{}" : text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The arguments echoed back in an assistant turn: malformed text is replaced by `{}` so strict servers accept the turn. */
export function sanitizedArguments(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text === "" ? "{}" : text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? text || "{}" : "{}";
  } catch {
    return "{}";
  }
}
