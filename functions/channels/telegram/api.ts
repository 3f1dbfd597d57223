import { platformFetch } from "../toolkit/platform-call.ts";
import { errorFromStatus, PlatformError } from "../toolkit/platform-error.ts";

/**
 * Telegram Bot API calls. Errors come as `{"ok":false,"error_code":N,"description":"...","parameters":{...}}`;
 * 429 carries `parameters.retry_after` (seconds). The token is part of the URL by Telegram's design, so neither the
 * URL nor the raw answer ever reaches an error message.
 */
export interface TelegramApiOptions {
  /** `https://api.telegram.org` unless pointed elsewhere (TELEGRAM_API_BASE_URL). */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
}

/** Makes a message a reply; sent even when the message replied to is gone (`allow_sending_without_reply`). */
export interface ReplyParameters {
  message_id: number;
  allow_sending_without_reply?: boolean;
}

export interface InlineButton {
  text: string;
  callback_data: string;
}

export class TelegramApi {
  private readonly options: TelegramApiOptions;
  constructor(options: TelegramApiOptions) {
    this.options = options;
  }

  async call(method: string, body: Record<string, unknown>): Promise<unknown> {
    return this.request(method, { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  /** A multipart/form-data call, the only way to upload a file (fetch sets the boundary). */
  async callMultipart(method: string, form: FormData): Promise<unknown> {
    return this.request(method, { body: form });
  }

  private async request(method: string, init: { headers?: Record<string, string>; body: string | FormData }) {
    const url = `${this.options.baseUrl.replace(/\/$/, "")}/bot${this.options.token}/${method}`;
    const response = await platformFetch("telegram", url, {
      method: "POST",
      ...init,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    const json = response.json as
      | {
          ok?: unknown;
          result?: unknown;
          error_code?: unknown;
          description?: unknown;
          parameters?: { retry_after?: unknown };
        }
      | undefined;
    if (json?.ok === true && response.status === 200) return json.result;
    const code = typeof json?.error_code === "number" ? json.error_code : response.status;
    const description = typeof json?.description === "string" ? json.description.slice(0, 200) : undefined;
    const retryAfter = json?.parameters?.retry_after;
    const retryAfterMs = typeof retryAfter === "number" ? retryAfter * 1000 : response.retryAfterMs;
    if (code === 429) {
      throw new PlatformError("telegram", "rate_limited", description ?? "Too Many Requests", {
        code: "429",
        httpStatus: response.status,
        retryAfterMs,
      });
    }
    // 403 is "bot was blocked by the user" / "bot was kicked": permanent for this chat, not a credentials problem.
    if (code === 403) {
      throw new PlatformError("telegram", "rejected", description ?? "Forbidden", {
        code: "403",
        httpStatus: response.status,
      });
    }
    if (code === 400) {
      throw new PlatformError("telegram", "rejected", description ?? "Bad Request", {
        code: "400",
        httpStatus: response.status,
      });
    }
    if (json === undefined && response.status === 200)
      throw new PlatformError("telegram", "unavailable", "answer is not JSON");
    throw errorFromStatus("telegram", code, retryAfterMs, String(code));
  }

  async sendMessage(message: {
    chat_id: string;
    text: string;
    message_thread_id?: number;
    reply_parameters?: ReplyParameters;
    reply_markup?: { inline_keyboard: InlineButton[][] };
  }): Promise<number> {
    const result = (await this.call("sendMessage", message)) as { message_id?: unknown } | undefined;
    return typeof result?.message_id === "number" ? result.message_id : 0;
  }

  /** sendDocument with the file's bytes in the `document` part (Telegram takes up to 50 MB this way). */
  async sendDocument(document: {
    chat_id: string;
    filename: string;
    content: string;
    caption?: string;
    message_thread_id?: number;
  }): Promise<number> {
    const form = new FormData();
    form.set("chat_id", document.chat_id);
    if (document.message_thread_id !== undefined) form.set("message_thread_id", String(document.message_thread_id));
    if (document.caption !== undefined) form.set("caption", document.caption);
    form.set("document", new Blob([document.content], { type: "text/plain; charset=utf-8" }), document.filename);
    const result = (await this.callMultipart("sendDocument", form)) as { message_id?: unknown } | undefined;
    return typeof result?.message_id === "number" ? result.message_id : 0;
  }

  /** The bot's own user (getMe): its username is how people mention it in groups. */
  async getMe(): Promise<{ id: number; username?: string }> {
    const result = (await this.call("getMe", {})) as { id?: unknown; username?: unknown } | undefined;
    if (typeof result?.id !== "number") throw new PlatformError("telegram", "unavailable", "getMe without an id");
    return { id: result.id, ...(typeof result.username === "string" ? { username: result.username } : {}) };
  }

  async answerCallbackQuery(query: { callback_query_id: string; text?: string; show_alert?: boolean }): Promise<void> {
    await this.call("answerCallbackQuery", query);
  }

  async editMessageText(edit: {
    chat_id: string;
    message_id: number;
    text: string;
    reply_markup?: { inline_keyboard: InlineButton[][] };
  }): Promise<void> {
    await this.call("editMessageText", edit);
  }
}
