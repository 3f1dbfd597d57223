import type { LanguageModel, ModelMessage, ModelRequest, ModelResponse, ModelTool, StreamHandlers } from "./model.ts";
import { estimateRequestTokens, estimateTokens } from "./model.ts";

/**
 * The demo provider (`model: demo/...`, the shipped default config's), so `npm start` shows the whole loop on a fresh
 * machine without any key. It answers only where it was chosen: a provider whose key is missing fails its runs
 * instead (missing-credential.ts), so the label says "demo model" and nothing about keys. It is deterministic and
 * says what it is in every answer. It calls a tool when the user names one (by its model-facing
 * name, or its bare tool name), with arguments built from the tool's JSON Schema, then reports what the tool said.
 * A scheduled check-in is answered with the heartbeat token, so schedules stay quiet.
 */
export const DEMO_LABEL = "[demo model]";

export class DemoModel implements LanguageModel {
  readonly provider = "demo";
  readonly modelId: string;
  readonly streams = false;
  private readonly heartbeatToken: string;

  constructor(modelId = "demo", options: { heartbeatToken?: string } = {}) {
    this.modelId = modelId;
    this.heartbeatToken = options.heartbeatToken ?? "HEARTBEAT_OK";
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const last = request.messages.at(-1);
    if (last?.role === "tool") return this.answer(request, summarizeResults(trailingResults(request.messages)));
    const said = lastUserText(request.messages);
    if (
      /heartbeat|scheduled check|nothing to report/i.test(request.system + said) &&
      !mentionsTool(said, request.tools)
    ) {
      return this.answer(request, this.heartbeatToken, false);
    }
    const tool = mentionsTool(said, request.tools);
    if (tool !== undefined) {
      return {
        text: `${DEMO_LABEL} Calling ${tool.name}.`,
        toolCalls: [
          {
            id: `demo_${request.messages.length}`,
            name: tool.name,
            arguments: JSON.stringify(exampleArguments(tool.parameters, said)),
          },
        ],
        finishReason: "tool_calls",
        usage: usage(request, tool.name),
      };
    }
    const names = request.tools.map((t) => t.name);
    const offer = names.length > 0 ? ` Name a tool and I will call it: ${names.slice(0, 8).join(", ")}.` : "";
    return this.answer(request, `You said: "${said.slice(0, 500)}".${offer}`);
  }

  async stream(request: ModelRequest, handlers: StreamHandlers): Promise<ModelResponse> {
    const response = await this.generate(request);
    if (response.toolCalls.length > 0) handlers.onToolCallStart?.();
    else if (response.text !== "") handlers.onTextDelta?.(response.text);
    return response;
  }

  private answer(request: ModelRequest, text: string, labelled = true): ModelResponse {
    const full = labelled ? `${DEMO_LABEL} ${text}` : text;
    return { text: full, toolCalls: [], finishReason: "stop", usage: usage(request, full) };
  }
}

function usage(request: ModelRequest, output: string) {
  return { inputTokens: estimateRequestTokens(request), outputTokens: estimateTokens(output) };
}

function lastUserText(messages: readonly ModelMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role === "user") return message.content;
  }
  return "";
}

function trailingResults(messages: readonly ModelMessage[]): Array<Extract<ModelMessage, { role: "tool" }>> {
  const results: Array<Extract<ModelMessage, { role: "tool" }>> = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]!.role === "tool"; i--) {
    results.unshift(messages[i] as Extract<ModelMessage, { role: "tool" }>);
  }
  return results;
}

function summarizeResults(results: ReadonlyArray<Extract<ModelMessage, { role: "tool" }>>): string {
  return results
    .map((result) => `${result.name} ${result.isError ? "failed" : "answered"}: ${result.content.slice(0, 400)}`)
    .join("\n");
}

function mentionsTool(text: string, tools: readonly ModelTool[]): ModelTool | undefined {
  const lower = text.toLowerCase();
  const words = new Set(lower.split(/[^a-z0-9_-]+/));
  return (
    tools.find((tool) => lower.includes(tool.name.toLowerCase())) ??
    tools.find((tool) => {
      const bare = tool.name.includes("__") ? tool.name.slice(tool.name.indexOf("__") + 2) : tool.name;
      return words.has(bare.toLowerCase());
    })
  );
}

/** A minimal value satisfying a JSON Schema: required properties filled, strings taken from what the user said. */
export function exampleArguments(schema: Record<string, unknown>, said: string): Record<string, unknown> {
  const value = exampleValue(schema, said, 0);
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function exampleValue(schema: unknown, said: string, depth: number): unknown {
  if (schema === null || typeof schema !== "object" || depth > 6) return null;
  const s = schema as Record<string, unknown>;
  if ("default" in s) return s.default;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const options = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(options) && options.length > 0) return exampleValue(options[0], said, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "object": {
      const out: Record<string, unknown> = {};
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      for (const name of (s.required ?? []) as string[]) {
        const url = /^(url|uri|href|link|address)$/i.test(name) ? firstUrl(said) : undefined;
        out[name] = url ?? exampleValue(properties[name], said, depth + 1);
      }
      return out;
    }
    case "array":
      return typeof s.minItems === "number" && s.minItems > 0 ? [exampleValue(s.items, said, depth + 1)] : [];
    case "string": {
      if (s.format === "uri" || s.format === "url") return firstUrl(said) ?? "https://example.com/";
      const min = typeof s.minLength === "number" ? s.minLength : 0;
      const max = typeof s.maxLength === "number" ? s.maxLength : 200;
      const text = (said.trim() || "demo").slice(0, max);
      return text.padEnd(min, ".");
    }
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 1;
    case "boolean":
      return false;
    default:
      return null;
  }
}

function firstUrl(text: string): string | undefined {
  return /https?:\/\/[^\s"'<>]+/.exec(text)?.[0];
}
