import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "../loopback.ts";
import { filler, flood, hang, isMisbehaviour, type Misbehaviour } from "../misbehaviour.ts";

/**
 * A local fake of the Anthropic Messages API speaking its real wire format (docs/wire-formats.md, "Anthropic"): the key
 * (as `x-api-key` or a bearer token) and a dated `anthropic-version` required, JSON responses with `text` / `tool_use`
 * content blocks, SSE streaming with `message_start`, `content_block_start/delta/stop` (`text_delta`,
 * `input_json_delta.partial_json`), `message_delta` with cumulative usage, `message_stop` and `ping`, and error bodies
 * `{"type":"error","error":{type,message}}` (429 rate_limit_error with retry-after, 529 overloaded_error, 500
 * api_error). Requests are validated as the API does: every `tool_use` answered by a `tool_result` in the very next
 * user turn, no stray `tool_result`, no empty text block, max_tokens present.
 */
type FakeBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id?: string; name: string; input: unknown; rawInput?: string };

type FakeReply =
  | {
      kind: "message";
      content: FakeBlock[];
      stopReason?: string;
      usage?: { input_tokens: number; output_tokens: number };
      fragment?: number;
    }
  | { kind: "error"; status: number; type?: string; message?: string; headers?: Record<string, string> }
  /** An SSE `error` event in the middle of a stream (what an overload mid-stream looks like). */
  | { kind: "stream_error"; type: string; message?: string }
  | Misbehaviour;

interface RecordedRequest {
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export type Responder = (request: RecordedRequest) => FakeReply;

export interface FakeAnthropic {
  /** Base URL as the SDK's baseURL takes it (the SDK appends /v1/messages). */
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  setResponder(responder: Responder): void;
  close(): Promise<void>;
}

export async function startFakeAnthropic(
  options: { apiKey?: string; responder?: Responder } = {},
): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? "sk-ant-test";
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  let responder: Responder =
    options.responder ?? (() => ({ kind: "message", content: [{ type: "text", text: "ok" }] }));

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== "POST" || req.url?.split("?")[0] !== "/v1/messages") {
      return sendError(res, { kind: "error", status: 404, type: "not_found_error", message: "Not found" });
    }
    // The API takes the key as `x-api-key` (docs/wire-formats.md) or as a bearer token (what this SDK generation
    // sends).
    const presented = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
    if (presented !== apiKey) {
      return sendError(res, { kind: "error", status: 401, type: "authentication_error", message: "invalid x-api-key" });
    }
    const version = req.headers["anthropic-version"];
    if (typeof version !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      return sendError(res, {
        kind: "error",
        status: 400,
        type: "invalid_request_error",
        message: "anthropic-version: header is required",
      });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, { kind: "error", status: 400, type: "invalid_request_error", message: "invalid JSON" });
    }
    const recorded: RecordedRequest = { headers: req.headers, body };
    requests.push(recorded);
    const invalid = validateRequest(body);
    if (invalid !== undefined)
      return sendError(res, { kind: "error", status: 400, type: "invalid_request_error", message: invalid });
    const reply = queue.shift() ?? responder(recorded);
    if (reply.kind === "error") return sendError(res, reply);
    const model = String(body.model);
    if (isMisbehaviour(reply)) {
      misbehave(res, reply, model, body.stream === true);
      return;
    }
    if (body.stream === true) return streamMessage(res, reply, model);
    if (reply.kind === "stream_error") {
      return sendError(res, { kind: "error", status: 529, type: reply.type, message: reply.message ?? "Overloaded" });
    }
    res.writeHead(200, { "content-type": "application/json", "request-id": `req_${randomUUID()}` });
    res.end(JSON.stringify(messageObject(reply, model)));
  }

  const { port, close } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    setResponder: (next) => {
      responder = next;
    },
    close,
  };
}

type Block = { type?: string; text?: string; id?: string; tool_use_id?: string; name?: string; input?: unknown };

function validateRequest(body: Record<string, unknown>): string | undefined {
  if (typeof body.max_tokens !== "number") return "max_tokens: Field required";
  if (typeof body.model !== "string") return "model: Field required";
  const messages = body.messages as Array<{ role?: string; content?: unknown }> | undefined;
  if (!Array.isArray(messages) || messages.length === 0) return "messages: at least one message is required";
  if (messages[0]!.role !== "user") return 'messages: first message must use the "user" role';
  let expected: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (message.role !== "user" && message.role !== "assistant")
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const blocks: Block[] =
      typeof message.content === "string"
        ? [{ type: "text", text: message.content }]
        : ((message.content as Block[]) ?? []);
    if (typeof message.content === "string" && message.content === "")
      return `messages.${i}: content must be non-empty`;
    for (const block of blocks) {
      if (block.type === "text" && (block.text ?? "") === "")
        return `messages.${i}.content: text content blocks must be non-empty`;
    }
    if (message.role === "user") {
      const results = blocks.filter((b) => b.type === "tool_result").map((b) => b.tool_use_id!);
      const missing = expected.filter((id) => !results.includes(id));
      if (missing.length > 0) {
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
      const stray = results.filter((id) => !expected.includes(id));
      if (stray.length > 0)
        return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray[0]}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
      expected = [];
    } else {
      if (expected.length > 0) {
        return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${expected.join(", ")}.`;
      }
      expected = blocks.filter((b) => b.type === "tool_use").map((b) => b.id!);
      for (const block of blocks) {
        if (
          block.type === "tool_use" &&
          (block.input === null || typeof block.input !== "object" || Array.isArray(block.input))
        ) {
          return `messages.${i}.content.tool_use.input: Input should be a valid dictionary`;
        }
      }
    }
  }
  if (expected.length > 0)
    return `messages: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${expected.join(", ")}.`;
  return undefined;
}

function sendError(
  res: ServerResponse,
  reply: { kind?: string; status: number; type?: string; message?: string; headers?: Record<string, string> },
): void {
  const type =
    reply.type ?? (reply.status === 429 ? "rate_limit_error" : reply.status === 529 ? "overloaded_error" : "api_error");
  res.writeHead(reply.status, { "content-type": "application/json", ...(reply.headers ?? {}) });
  res.end(JSON.stringify({ type: "error", error: { type, message: reply.message ?? type } }));
}

function withIds(blocks: FakeBlock[]): FakeBlock[] {
  return blocks.map((block) =>
    block.type === "tool_use" && block.id === undefined
      ? { ...block, id: `toolu_${randomUUID().replace(/-/g, "").slice(0, 24)}` }
      : block,
  );
}

function stopReasonOf(reply: Extract<FakeReply, { kind: "message" }>): string {
  return reply.stopReason ?? (reply.content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
}

function messageObject(reply: Extract<FakeReply, { kind: "message" }>, model: string) {
  return {
    id: `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`,
    type: "message",
    role: "assistant",
    model,
    content: withIds(reply.content).map((block) =>
      block.type === "text" ? block : { type: "tool_use", id: block.id, name: block.name, input: block.input },
    ),
    stop_reason: stopReasonOf(reply),
    stop_sequence: null,
    usage: reply.usage ?? { input_tokens: 13, output_tokens: 9 },
  };
}

function streamMessage(
  res: ServerResponse,
  reply: Exclude<FakeReply, { kind: "error" } | Misbehaviour>,
  model: string,
): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const id = `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  const usage =
    reply.kind === "message"
      ? (reply.usage ?? { input_tokens: 13, output_tokens: 9 })
      : { input_tokens: 13, output_tokens: 1 };
  send("message_start", {
    type: "message_start",
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input_tokens, output_tokens: 1 },
    },
  });
  send("ping", { type: "ping" });
  if (reply.kind === "stream_error") {
    send("error", { type: "error", error: { type: reply.type, message: reply.message ?? "Overloaded" } });
    res.end();
    return;
  }
  const size = reply.fragment ?? 5;
  withIds(reply.content).forEach((block, index) => {
    if (block.type === "text") {
      send("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } });
      for (let i = 0; i < block.text.length; i += size) {
        send("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: block.text.slice(i, i + size) },
        });
      }
    } else {
      send("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      const json = block.rawInput ?? JSON.stringify(block.input);
      for (let i = 0; i < json.length; i += size) {
        send("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: json.slice(i, i + size) },
        });
      }
    }
    send("content_block_stop", { type: "content_block_stop", index });
  });
  send("message_delta", {
    type: "message_delta",
    delta: { stop_reason: stopReasonOf(reply), stop_sequence: null },
    usage: { output_tokens: usage.output_tokens },
  });
  send("message_stop", { type: "message_stop" });
  res.end();
}

/** A provider gone wrong (../misbehaviour.ts), in the Messages API's wire shapes. */
function misbehave(res: ServerResponse, reply: Misbehaviour, model: string, stream: boolean): void {
  const id = `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  const usage = { input_tokens: 13, output_tokens: 1 };
  if (!stream) {
    res.writeHead(200, { "content-type": "application/json" });
    if (reply.kind === "hang") {
      hang(res);
      return;
    }
    if (reply.kind === "flood") {
      res.write(
        `{"id":"${id}","type":"message","role":"assistant","model":"${model}","content":[{"type":"text","text":"`,
      );
      flood(res, reply.bytesPerSecond ?? 1024 * 1024, filler);
      return;
    }
    const content = [{ type: "text", text: filler(reply.bytes) }];
    res.end(
      JSON.stringify({
        id,
        type: "message",
        role: "assistant",
        model,
        content,
        stop_reason: "end_turn",
        stop_sequence: null,
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const text = (n: number) =>
    event("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: filler(n) },
    });
  res.write(
    event("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    }),
  );
  if (reply.kind === "hang") {
    hang(res);
    return;
  }
  res.write(
    event("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
  );
  if (reply.kind === "flood") {
    flood(res, reply.bytesPerSecond ?? 1024 * 1024, text);
    return;
  }
  for (let sent = 0; sent < reply.bytes; sent += 65_536) res.write(text(Math.min(65_536, reply.bytes - sent)));
  res.write(event("content_block_stop", { type: "content_block_stop", index: 0 }));
  res.write(
    event("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 1 },
    }),
  );
  res.end(event("message_stop", { type: "message_stop" }));
}
