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
  /** sendDocument: the uploaded file as Telegram received it. */
  document?: { filename: string; type: string; content: string };
}

export type ScriptedAnswer = { error_code: number; description: string; retry_after?: number };

const SUPPORTED = new Set([
  "getMe",
  "sendMessage",
  "sendDocument",
  "answerCallbackQuery",
  "editMessageReplyMarkup",
  "editMessageText",
]);
/** Telegram's own limits: captions 1024 characters, documents uploaded by a bot 50 MB. */
const CAPTION_LIMIT = 1024;
const DOCUMENT_LIMIT = 50 * 1024 * 1024;

export class FakeTelegram extends FakeServer<TelegramCall> {
  readonly token: string;
  /** When set, only these chats exist. */
  chats: Set<string> | undefined;
  readonly script: ScriptedAnswer[] = [];
  /** The bot's username (getMe). */
  username = "knclaw_test_bot";
  /** Messages that exist, per chat: a reply must name one unless allow_sending_without_reply is set. */
  private readonly messages = new Map<string, Set<number>>();
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
    let document: TelegramCall["document"];
    try {
      ({ body, document } = await readBody(request));
    } catch {
      return fail(400, "Bad Request: invalid request body");
    }
    if (method === "getMe") {
      const id = Number(this.token.split(":")[0]);
      return Response.json({ ok: true, result: { id, is_bot: true, first_name: "knclaw", username: this.username } });
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
    const reply = this.checkReply(String(chat), body.reply_parameters);
    if (reply !== undefined) return reply;
    if (method === "sendDocument") {
      if (document === undefined) return fail(400, "Bad Request: there is no document in the request");
      if (Buffer.byteLength(document.content) > DOCUMENT_LIMIT) return fail(413, "Request Entity Too Large");
      if (typeof body.caption === "string" && body.caption.length > CAPTION_LIMIT)
        return fail(400, "Bad Request: message caption is too long");
      const message_id = this.created(String(chat));
      this.record({ method, body, message_id, document });
      return Response.json({
        ok: true,
        result: {
          message_id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(chat), type: "private" },
          document: { file_id: `BQAC${message_id}`, file_name: document.filename, mime_type: document.type },
          ...(typeof body.caption === "string" ? { caption: body.caption } : {}),
        },
      });
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
      const message_id = this.created(String(chat));
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

  /** A message someone posted in a chat (so that a reply to it finds it). */
  exists(chat: string, messageId: number): void {
    if (!this.messages.has(chat)) this.messages.set(chat, new Set());
    this.messages.get(chat)!.add(messageId);
  }

  private created(chat: string): number {
    const id = this.nextMessageId++;
    this.exists(chat, id);
    return id;
  }

  /** reply_parameters as Telegram checks them: a message id, which must exist unless sending without it is allowed. */
  private checkReply(chat: string, raw: unknown): Response | undefined {
    if (raw === undefined) return undefined;
    const parameters = (typeof raw === "string" ? JSON.parse(raw) : raw) as {
      message_id?: unknown;
      allow_sending_without_reply?: unknown;
    };
    if (typeof parameters.message_id !== "number") return fail(400, "Bad Request: invalid reply parameters");
    if (this.messages.get(chat)?.has(parameters.message_id) || parameters.allow_sending_without_reply === true)
      return undefined;
    return fail(400, "Bad Request: message to be replied not found");
  }
}

/** A Bot API request body: JSON, or multipart/form-data with the file in its own part. */
async function readBody(
  request: Request,
): Promise<{ body: Record<string, unknown>; document?: TelegramCall["document"] }> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.startsWith("multipart/form-data")) return { body: (await request.json()) as Record<string, unknown> };
  const form = await request.formData();
  const body: Record<string, unknown> = {};
  let document: TelegramCall["document"];
  for (const [name, value] of form) {
    if (typeof value === "string") body[name] = value;
    else if (name === "document")
      document = {
        filename: value.name,
        type: value.type,
        content: Buffer.from(await value.arrayBuffer()).toString("utf8"),
      };
  }
  return { body, ...(document !== undefined ? { document } : {}) };
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
  /** MessageEntity objects as Telegram sends them (mentions, bot commands, text mentions). */
  entities?: Array<{ type: string; offset: number; length: number; user?: { id: number; is_bot: boolean } }>;
  /** The message replied to: its id and author. */
  replyTo?: { messageId: number; fromId: string; isBot?: boolean };
  /** Delivered as an edit of an earlier message (`edited_message`, with `edit_date`). */
  edited?: boolean;
}): string {
  const thread = fields.threadId !== undefined ? `,"message_thread_id":${fields.threadId},"is_topic_message":true` : "";
  const entities = fields.entities !== undefined ? `,"entities":${JSON.stringify(fields.entities)}` : "";
  const reply =
    fields.replyTo !== undefined
      ? `,"reply_to_message":{"message_id":${fields.replyTo.messageId},"from":{"id":${fields.replyTo.fromId},"is_bot":${fields.replyTo.isBot ?? false},"first_name":"Bot"},"chat":{"id":${fields.chatId},"type":"${fields.chatType ?? "private"}"},"date":1699999999,"text":"earlier"}`
      : "";
  const edit = fields.edited ? `,"edit_date":1700000100` : "";
  const key = fields.edited ? "edited_message" : "message";
  return `{"update_id":${fields.updateId},"${key}":{"message_id":${fields.messageId ?? fields.updateId}${thread},"from":{"id":${fields.fromId},"is_bot":${fields.isBot ?? false},"first_name":"Ada","username":"ada"},"chat":{"id":${fields.chatId},"type":"${fields.chatType ?? "private"}"},"date":1700000000${edit},"text":${JSON.stringify(fields.text)}${entities}${reply}}}`;
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
