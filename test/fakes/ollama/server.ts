import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback, readBody } from "../loopback.ts";

/**
 * A local fake of Ollama's OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`) that answers as Ollama's
 * `openai` package and `middleware/openai.go` do, quirks included:
 * - streaming chunks carry `delta.role: "assistant"` and a `content` string every time (empty beside reasoning or
 *   tool calls), `system_fingerprint: "fp_ollama"`, an id `chatcmpl-<0..998>`; `Content-Type: text/event-stream`;
 * - a thinking model's reasoning arrives as `delta.reasoning` in chunks of its own, never as content;
 * - tool calls arrive whole (name and the complete arguments JSON) in one chunk, never as fragments;
 * - usage comes only with `stream_options.include_usage`, as a last chunk with `choices: []`; a non-streamed answer
 *   always has it;
 * - errors are `{"error":{"message","type","param":null,"code":null}}` (`invalid_request_error`, `not_found_error`
 *   for a model that was never pulled, `api_error`); no API key is asked for (a bearer token is ignored);
 * - requests are checked as Ollama converts them: an assistant turn's tool-call arguments must be a JSON object
 *   ("invalid tool call arguments"), a message without content must carry tool calls.
 *
 * `version` picks between releases: `current` gives each call an id (`call_<8 chars>`) and its own `index`, and
 * ends a turn that called tools with `finish_reason: "tool_calls"`; `legacy` (the releases before) gives every call
 * `"id": ""` and `index: 0`, ends with `finish_reason: "stop"` whatever it did, and ignores `stream_options` (no usage
 * while streaming).
 */
export interface OllamaTurn {
  /** Reasoning streamed before the answer (a thinking model). */
  thinking?: string;
  text?: string;
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** Ollama's done_reason: `stop`, or `length` at the token limit. */
  doneReason?: "stop" | "length";
  /** prompt_eval_count and eval_count, which become prompt_tokens and completion_tokens. */
  promptEvalCount?: number;
  evalCount?: number;
  /** Characters per streamed text chunk (a token or two in real life). */
  piece?: number;
}

export interface OllamaRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

export interface FakeOllama {
  /** The base URL the openai SDK takes: `http://127.0.0.1:<port>/v1`. */
  url: string;
  requests: OllamaRequest[];
  close(): Promise<void>;
}

export interface FakeOllamaOptions {
  /** The models pulled; any other is a 404 as Ollama answers it. */
  models: string[];
  version?: "current" | "legacy";
  respond: (request: OllamaRequest) => OllamaTurn;
}

export async function startFakeOllama(options: FakeOllamaOptions): Promise<FakeOllama> {
  const version = options.version ?? "current";
  const requests: OllamaRequest[] = [];
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = req.url?.split("?")[0];
    if (req.method === "GET" && path === "/v1/models") {
      const data = options.models.map((id) => ({ id, object: "model", created: 0, owned_by: "library" }));
      return json(res, 200, { object: "list", data });
    }
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("404 page not found");
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch (error) {
      return fail(res, 400, (error as Error).message);
    }
    const invalid = checkRequest(body);
    if (invalid !== undefined) return fail(res, 400, invalid);
    if (!options.models.includes(String(body.model))) {
      return fail(res, 404, `model "${String(body.model)}" not found, try pulling it first`);
    }
    const request: OllamaRequest = { path, headers: req.headers, body };
    requests.push(request);
    const turn = options.respond(request);
    const model = String(body.model);
    if (body.stream === true) {
      const includeUsage = (body.stream_options as { include_usage?: boolean } | null)?.include_usage === true;
      return stream(res, turn, model, version, includeUsage && version === "current");
    }
    return complete(res, turn, model, version);
  }

  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}/v1`, requests, close };
}

/** What Ollama's FromChatRequest refuses, for the parts a client like knclaw's uses. */
function checkRequest(body: Record<string, unknown>): string | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return "[] is too short - 'messages'";
  for (const message of messages as Array<Record<string, unknown>>) {
    const calls = message.tool_calls as Array<{ function?: { arguments?: unknown } }> | undefined;
    if (message.content === undefined || message.content === null) {
      if (calls === undefined) return "invalid message content type: <nil>";
    } else if (typeof message.content !== "string" && !Array.isArray(message.content)) {
      return `invalid message content type: ${typeof message.content}`;
    }
    for (const call of calls ?? []) {
      try {
        const args: unknown = JSON.parse(String(call.function?.arguments));
        if (args === null || typeof args !== "object" || Array.isArray(args)) throw new Error("not an object");
      } catch {
        return "invalid tool call arguments";
      }
    }
  }
  return undefined;
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(`${JSON.stringify(value)}\n`);
}

function fail(res: ServerResponse, status: number, message: string): void {
  const type = status === 400 ? "invalid_request_error" : status === 404 ? "not_found_error" : "api_error";
  json(res, status, { error: { message, type, param: null, code: null } });
}

function toolCalls(turn: OllamaTurn, version: "current" | "legacy") {
  return (turn.toolCalls ?? []).map((call, index) => ({
    id:
      version === "current"
        ? `call_${randomInt(36 ** 8)
            .toString(36)
            .padStart(8, "0")}`
        : "",
    index: version === "current" ? index : 0,
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  }));
}

function usage(turn: OllamaTurn) {
  const prompt = turn.promptEvalCount ?? 0;
  const completion = turn.evalCount ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function complete(res: ServerResponse, turn: OllamaTurn, model: string, version: "current" | "legacy"): void {
  const calls = toolCalls(turn, version);
  const message: Record<string, unknown> = { role: "assistant", content: turn.text ?? "" };
  if (turn.thinking) message.reasoning = turn.thinking;
  if (calls.length > 0) message.tool_calls = calls;
  const finish = calls.length > 0 ? "tool_calls" : (turn.doneReason ?? "stop");
  json(res, 200, {
    id: `chatcmpl-${randomInt(999)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: "fp_ollama",
    choices: [{ index: 0, message, finish_reason: finish }],
    usage: usage(turn),
  });
}

function stream(
  res: ServerResponse,
  turn: OllamaTurn,
  model: string,
  version: "current" | "legacy",
  includeUsage: boolean,
): void {
  const base = {
    id: `chatcmpl-${randomInt(999)}`,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: "fp_ollama",
  };
  res.writeHead(200, { "content-type": "text/event-stream" });
  const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta: { role: "assistant", content: "", ...delta }, finish_reason: finish }],
  });
  const size = turn.piece ?? 3;
  for (const piece of pieces(turn.thinking ?? "", size)) send(chunk({ reasoning: piece }));
  for (const piece of pieces(turn.text ?? "", size)) send(chunk({ content: piece }));
  const calls = toolCalls(turn, version);
  if (calls.length > 0) send(chunk({ tool_calls: calls }));
  // The done chunk: Ollama's last response carries no text, only why it stopped.
  const done = chunk({}, version === "current" && calls.length > 0 ? "tool_calls" : (turn.doneReason ?? "stop"));
  send(done);
  if (includeUsage) send({ ...done, choices: [], usage: usage(turn) });
  res.end("data: [DONE]\n\n");
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
