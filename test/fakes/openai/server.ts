import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "../loopback.ts";
import { filler, flood, hang, isMisbehaviour, type Misbehaviour } from "../misbehaviour.ts";

/**
 * A local fake of the OpenAI Chat Completions API that speaks the real wire format (docs/wire-formats.md, "OpenAI"):
 * JSON and SSE streaming (`data: {chunk}` lines, `data: [DONE]`), tool-call deltas with index/id/name then argument
 * fragments, the usage chunk with `choices: []` when `stream_options.include_usage`, and error bodies
 * `{"error":{message,type,param,code}}` with `retry-after` / `retry-after-ms`. It validates requests as OpenAI does
 * (every assistant tool call answered by a tool message, tool messages answering a preceding call, tool names), so a
 * client that breaks the protocol gets the same 400 the real API gives.
 *
 * Server styles reproduce OpenAI-compatible servers' quirks: `ollama` sends each tool call whole in one chunk, gives
 * every parallel call `index: 0`, answers `finish_reason: "stop"` after tool calls and errors without `code`.
 */
interface FakeToolCall {
  id?: string;
  name: string;
  /** Raw arguments text, sent as-is (may be invalid JSON, as vLLM can produce). */
  arguments: string;
}

export type FakeReply =
  | {
      kind: "message";
      text?: string;
      toolCalls?: FakeToolCall[];
      finishReason?: string;
      usage?: { prompt_tokens: number; completion_tokens: number };
      style?: "openai" | "ollama";
      /** Split text and arguments into fragments of this many characters when streaming. */
      fragment?: number;
    }
  | {
      kind: "error";
      status: number;
      message?: string;
      type?: string;
      code?: string | null;
      headers?: Record<string, string>;
    }
  | Misbehaviour;

interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export type Responder = (request: RecordedRequest) => FakeReply;

export interface FakeOpenAI {
  /** Base URL including /v1, as the SDK's baseURL takes it. */
  url: string;
  requests: RecordedRequest[];
  /** Replies used in order; when none is queued the responder answers. */
  enqueue(...replies: FakeReply[]): void;
  setResponder(responder: Responder): void;
  close(): Promise<void>;
}

export async function startFakeOpenAI(options: { apiKey?: string; responder?: Responder } = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey ?? "sk-test-key";
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  let responder: Responder = options.responder ?? (() => ({ kind: "message", text: "ok" }));

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== "POST" || req.url?.split("?")[0] !== "/v1/chat/completions") {
      return sendError(res, {
        kind: "error",
        status: 404,
        message: `Unknown request URL: ${req.method} ${req.url}`,
        type: "invalid_request_error",
        code: "unknown_url",
      });
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return sendError(res, {
        kind: "error",
        status: 401,
        message: "Incorrect API key provided.",
        type: "invalid_request_error",
        code: "invalid_api_key",
      });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, {
        kind: "error",
        status: 400,
        message: "We could not parse the JSON body of your request.",
        type: "invalid_request_error",
        code: null,
      });
    }
    const recorded: RecordedRequest = { path: req.url!, headers: req.headers, body };
    requests.push(recorded);
    const invalid = validateRequest(body);
    if (invalid !== undefined) {
      return sendError(res, {
        kind: "error",
        status: 400,
        message: invalid,
        type: "invalid_request_error",
        code: null,
      });
    }
    const reply = queue.shift() ?? responder(recorded);
    if (reply.kind === "error") return sendError(res, reply);
    const model = String(body.model);
    if (isMisbehaviour(reply)) {
      misbehave(res, reply, model, body.stream === true);
      return;
    }
    if (body.stream === true) {
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      return streamMessage(res, reply, model, includeUsage);
    }
    return sendMessage(res, reply, model);
  }

  const { port, close } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    setResponder: (next) => {
      responder = next;
    },
    close,
  };
}

/** OpenAI's own request checks for the parts knclaw uses. */
function validateRequest(body: Record<string, unknown>): string | undefined {
  if (typeof body.model !== "string" || body.model === "") return "you must provide a model parameter";
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return "[] is too short - 'messages'";
  for (const tool of (body.tools as Array<{ type?: string; function?: { name?: string } }> | undefined) ?? []) {
    const name = tool.function?.name ?? "";
    if (tool.type !== "function" || !/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
      return `Invalid 'tools[].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`;
    }
  }
  const open = new Set<string>();
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as {
      role?: string;
      tool_calls?: Array<{ id: string; function?: { arguments?: unknown } }>;
      tool_call_id?: string;
      content?: unknown;
    };
    if (message.role !== "tool" && open.size > 0) {
      return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open].join(", ")}`;
    }
    if (message.role === "assistant" && Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (typeof call.function?.arguments !== "string")
          return `Invalid type for 'messages[${i}].tool_calls[].function.arguments': expected a string.`;
        open.add(call.id);
      }
    } else if (message.role === "tool") {
      if (typeof message.tool_call_id !== "string" || !open.delete(message.tool_call_id)) {
        return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
      }
    } else if (!["system", "developer", "user", "assistant"].includes(String(message.role))) {
      return `Invalid value: '${String(message.role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`;
    }
  }
  if (open.size > 0) {
    return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open].join(", ")}`;
  }
  return undefined;
}

function sendError(res: ServerResponse, reply: Extract<FakeReply, { kind: "error" }>): void {
  const error: Record<string, unknown> = {
    message: reply.message ?? `error ${reply.status}`,
    type:
      reply.type ??
      (reply.status === 429 ? "rate_limit_exceeded" : reply.status >= 500 ? "server_error" : "invalid_request_error"),
    param: null,
  };
  // Ollama-style errors carry no code at all.
  if (reply.code !== undefined) error.code = reply.code;
  res.writeHead(reply.status, { "content-type": "application/json", ...(reply.headers ?? {}) });
  res.end(JSON.stringify({ error }));
}

function completionId(): string {
  return `chatcmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
}

function callIds(reply: Extract<FakeReply, { kind: "message" }>): FakeToolCall[] {
  return (reply.toolCalls ?? []).map((call, index) => ({
    ...call,
    id: call.id ?? `call_${randomUUID().replace(/-/g, "").slice(0, 20)}${index}`,
  }));
}

function finish(reply: Extract<FakeReply, { kind: "message" }>): string {
  if (reply.finishReason !== undefined) return reply.finishReason;
  if (reply.style === "ollama") return "stop";
  return (reply.toolCalls ?? []).length > 0 ? "tool_calls" : "stop";
}

function usageOf(reply: Extract<FakeReply, { kind: "message" }>) {
  const usage = reply.usage ?? { prompt_tokens: 11, completion_tokens: 7 };
  return { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
}

function sendMessage(res: ServerResponse, reply: Extract<FakeReply, { kind: "message" }>, model: string): void {
  const calls = callIds(reply);
  const message: Record<string, unknown> = {
    role: "assistant",
    content: reply.text ?? (calls.length > 0 ? null : ""),
    refusal: null,
  };
  if (calls.length > 0) {
    message.tool_calls = calls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      id: completionId(),
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish(reply) }],
      usage: usageOf(reply),
    }),
  );
}

function streamMessage(
  res: ServerResponse,
  reply: Extract<FakeReply, { kind: "message" }>,
  model: string,
  includeUsage: boolean,
): void {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const size = reply.fragment ?? 4;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, system_fingerprint: "fp_fake", choices, ...extra })}\n\n`,
    );
  const delta = (d: Record<string, unknown>, finishReason: string | null = null) =>
    chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finishReason }]);
  delta({ role: "assistant", content: "", refusal: null });
  for (const piece of fragments(reply.text ?? "", size)) delta({ content: piece });
  const calls = callIds(reply);
  if (reply.style === "ollama") {
    for (const call of calls) {
      delta({
        tool_calls: [
          { index: 0, id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } },
        ],
      });
    }
  } else {
    calls.forEach((call, index) => {
      delta({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] });
      for (const piece of fragments(call.arguments, size))
        delta({ tool_calls: [{ index, function: { arguments: piece } }] });
    });
  }
  delta({}, finish(reply));
  if (includeUsage) chunk([], { usage: usageOf(reply) });
  res.write("data: [DONE]\n\n");
  res.end();
}

function fragments(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** A provider gone wrong (../misbehaviour.ts), in Chat Completions' wire shapes. */
function misbehave(res: ServerResponse, reply: Misbehaviour, model: string, stream: boolean): void {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (content: string, finishReason: string | null = null) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta: { content }, finish_reason: finishReason }] })}\n\n`;
  if (!stream) {
    res.writeHead(200, { "content-type": "application/json" });
    if (reply.kind === "hang") {
      hang(res);
      return;
    }
    if (reply.kind === "flood") {
      // A body that never closes: the JSON is still open when the next piece arrives.
      res.write(
        `{"id":"${id}","object":"chat.completion","created":${created},"model":"${model}","choices":[{"index":0,"message":{"role":"assistant","content":"`,
      );
      flood(res, reply.bytesPerSecond ?? 1024 * 1024, filler);
      return;
    }
    const message = { role: "assistant", content: filler(reply.bytes), refusal: null };
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: "stop" }],
        usage: { prompt_tokens: 11, completion_tokens: Math.ceil(reply.bytes / 4), total_tokens: 0 },
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  res.write(chunk(""));
  if (reply.kind === "hang") {
    hang(res);
    return;
  }
  if (reply.kind === "flood") {
    flood(res, reply.bytesPerSecond ?? 1024 * 1024, (n) => chunk(filler(n)));
    return;
  }
  for (let sent = 0; sent < reply.bytes; sent += 65_536) res.write(chunk(filler(Math.min(65_536, reply.bytes - sent))));
  res.write(chunk("", "stop"));
  res.end("data: [DONE]\n\n");
}
