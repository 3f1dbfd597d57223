import { FakeServer } from "../../functions/channels/support/fake-server.ts";

/**
 * A local Telegram Bot API: `/bot<token>/<method>` with Telegram's answers (`{"ok":true,"result":...}`, errors as
 * `{"ok":false,"error_code":N,"description":"..."}` with the same HTTP status, 429 with `parameters.retry_after`),
 * plus the sending side of webhooks (the `X-Telegram-Bot-Api-Secret-Token` header, Update JSON with 64-bit ids).
 */
export interface TelegramCall {
  method: string;
  body: Record<string, unknown>;
  message_id?: number;
}

export type ScriptedAnswer = { error_code: number; description: string; retry_after?: number };

const SUPPORTED = new Set(["sendMessage", "answerCallbackQuery", "editMessageReplyMarkup", "editMessageText"]);

export class FakeTelegram extends FakeServer<TelegramCall> {
  readonly token: string;
  /** When set, only these chats exist. */
  chats: Set<string> | undefined;
  readonly script: ScriptedAnswer[] = [];
  private nextMessageId = 100;

  constructor(token = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra") {
    super();
    this.token = token;
  }

  protected async handle(request: Request, path: string): Promise<Response> {
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(path);
    if (!match) return fail(404, "Not Found");
    const [, token, method] = match as unknown as [string, string, string];
    if (token !== this.token) return fail(401, "Unauthorized");
    if (!SUPPORTED.has(method)) return fail(404, "Not Found: method not found");
    const scripted = this.script.shift();
    if (scripted !== undefined) return fail(scripted.error_code, scripted.description, scripted.retry_after);
    let body: Record<string, unknown>;
    try {
      body = (await request.json()) as Record<string, unknown>;
    } catch {
      return fail(400, "Bad Request: invalid JSON");
    }
    if (method === "answerCallbackQuery") {
      if (typeof body.callback_query_id !== "string")
        return fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid");
      this.record({ method, body });
      return Response.json({ ok: true, result: true });
    }
    const chat = body.chat_id;
    if (
      (typeof chat !== "string" && typeof chat !== "number") ||
      (this.chats !== undefined && !this.chats.has(String(chat)))
    ) {
      return fail(400, "Bad Request: chat not found");
    }
    if (method === "sendMessage") {
      const text = typeof body.text === "string" ? body.text : "";
      if (text.trim() === "") return fail(400, "Bad Request: message text is empty");
      if (text.length > 4096) return fail(400, "Bad Request: message is too long");
      const keyboard = (body.reply_markup as { inline_keyboard?: Array<Array<{ callback_data?: string }>> } | undefined)
        ?.inline_keyboard;
      for (const button of keyboard?.flat() ?? []) {
        const size = Buffer.byteLength(button.callback_data ?? "");
        if (size < 1 || size > 64) return fail(400, "Bad Request: BUTTON_DATA_INVALID");
      }
      const message_id = this.nextMessageId++;
      this.record({ method, body, message_id });
      return Response.json({
        ok: true,
        result: { message_id, date: Math.floor(Date.now() / 1000), chat: { id: Number(chat), type: "private" }, text },
      });
    }
    this.record({ method, body });
    return Response.json({ ok: true, result: true });
  }

  calls(method: string): TelegramCall[] {
    return this.accepted.filter((call) => call.method === method);
  }
}

function fail(code: number, description: string, retryAfter?: number): Response {
  return Response.json(
    {
      ok: false,
      error_code: code,
      description,
      ...(retryAfter !== undefined ? { parameters: { retry_after: retryAfter } } : {}),
    },
    { status: code, ...(retryAfter !== undefined ? { headers: { "retry-after": String(retryAfter) } } : {}) },
  );
}

/** A webhook delivery exactly as Telegram makes it. Update JSON is written by hand so 64-bit ids stay numbers. */
export function telegramRequest(url: string, secret: string | null, updateJson: string): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers["x-telegram-bot-api-secret-token"] = secret;
  return new Request(url, { method: "POST", headers, body: updateJson });
}

export function telegramTextUpdate(fields: {
  updateId: number;
  chatId: string;
  fromId: string;
  text: string;
  messageId?: number;
  isBot?: boolean;
  threadId?: number;
  chatType?: string;
}): string {
  const thread = fields.threadId !== undefined ? `,"message_thread_id":${fields.threadId},"is_topic_message":true` : "";
  return `{"update_id":${fields.updateId},"message":{"message_id":${fields.messageId ?? fields.updateId}${thread},"from":{"id":${fields.fromId},"is_bot":${fields.isBot ?? false},"first_name":"Ada","username":"ada"},"chat":{"id":${fields.chatId},"type":"${fields.chatType ?? "private"}"},"date":1700000000,"text":${JSON.stringify(fields.text)}}}`;
}

export function telegramCallbackUpdate(fields: {
  updateId: number;
  queryId: string;
  chatId: string;
  fromId: string;
  messageId: number;
  data: string;
}): string {
  return `{"update_id":${fields.updateId},"callback_query":{"id":"${fields.queryId}","from":{"id":${fields.fromId},"is_bot":false,"first_name":"Op"},"message":{"message_id":${fields.messageId},"chat":{"id":${fields.chatId},"type":"private"},"date":1700000000,"text":"Approval needed"},"chat_instance":"-1","data":${JSON.stringify(fields.data)}}}`;
}
