import { platformFetch } from "../toolkit/platform-call.ts";
import { errorFromStatus, PlatformError } from "../toolkit/platform-error.ts";

/**
 * Discord REST calls: interaction follow-ups and edits (`/webhooks/{application}/{token}`, no bot token needed, valid
 * 15 minutes) and channel messages (`/channels/{id}/messages` with the bot token, `nonce` + `enforce_nonce` so a retried
 * create returns the first message instead of posting twice). Rate limits: 429 with `retry_after` (seconds, float).
 */
export interface DiscordApiOptions {
  /** `https://discord.com/api/v10` unless pointed elsewhere (DISCORD_API_BASE_URL). */
  baseUrl: string;
  botToken: string;
  fetch?: typeof fetch;
}

export interface DiscordMessageBody {
  content: string;
  components?: unknown[];
  flags?: number;
  /** Makes a channel message a reply; `fail_if_not_exists: false` posts it even if that message is gone. */
  message_reference?: { message_id: string; fail_if_not_exists?: boolean };
}

/** A file sent with a message (multipart: `payload_json` and `files[0]`). */
export interface DiscordFile {
  filename: string;
  content: string;
}

export class DiscordApi {
  private readonly options: DiscordApiOptions;
  constructor(options: DiscordApiOptions) {
    this.options = options;
  }

  /**
   * One REST call: JSON, or with a file multipart/form-data whose `payload_json` is the JSON body and `files[0]` the
   * file, named in the body's `attachments` (fetch sets the boundary).
   */
  private async call(
    method: string,
    path: string,
    body: object,
    bot: boolean,
    file?: DiscordFile,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = file === undefined ? { "content-type": "application/json" } : {};
    if (bot) headers.authorization = `Bot ${this.options.botToken}`;
    let payload: string | FormData = JSON.stringify(body);
    if (file !== undefined) {
      payload = new FormData();
      payload.set("payload_json", JSON.stringify({ ...body, attachments: [{ id: 0, filename: file.filename }] }));
      payload.set("files[0]", new Blob([file.content], { type: "text/plain; charset=utf-8" }), file.filename);
    }
    const response = await platformFetch("discord", `${this.options.baseUrl.replace(/\/$/, "")}${path}`, {
      method,
      headers,
      body: payload,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    const json = (response.json ?? {}) as { code?: unknown; message?: unknown; retry_after?: unknown; id?: unknown };
    if (response.status >= 200 && response.status < 300) return json as Record<string, unknown>;
    const code = typeof json.code === "number" ? String(json.code) : undefined;
    if (response.status === 429) {
      const seconds = typeof json.retry_after === "number" ? json.retry_after : undefined;
      throw new PlatformError("discord", "rate_limited", "rate limited", {
        code,
        httpStatus: 429,
        retryAfterMs: seconds !== undefined ? Math.ceil(seconds * 1000) : response.retryAfterMs,
      });
    }
    // 403 is a missing permission in that channel: permanent for this message, not a credentials problem.
    if (response.status === 403)
      throw new PlatformError("discord", "rejected", "missing access", { code, httpStatus: 403 });
    throw errorFromStatus("discord", response.status, response.retryAfterMs, code);
  }

  async editOriginal(applicationId: string, token: string, body: DiscordMessageBody): Promise<string> {
    const answer = await this.call("PATCH", `/webhooks/${applicationId}/${token}/messages/@original`, body, false);
    return String(answer.id ?? "@original");
  }

  /** Edit a message the interaction posted (`@original` or a follow-up's id); the buttons go with `components: []`. */
  async editInteractionMessage(applicationId: string, token: string, messageId: string, body: DiscordMessageBody) {
    await this.call("PATCH", `/webhooks/${applicationId}/${token}/messages/${messageId}`, body, false);
  }

  /** Edit a message the bot posted, once the interaction token that posted it has expired. */
  async editChannelMessage(channelId: string, messageId: string, body: DiscordMessageBody): Promise<void> {
    await this.call("PATCH", `/channels/${channelId}/messages/${messageId}`, body, true);
  }

  async followUp(applicationId: string, token: string, body: DiscordMessageBody, file?: DiscordFile): Promise<string> {
    const answer = await this.call("POST", `/webhooks/${applicationId}/${token}`, body, false, file);
    return String(answer.id ?? "");
  }

  async createMessage(
    channelId: string,
    body: DiscordMessageBody & { nonce: string },
    file?: DiscordFile,
  ): Promise<string> {
    const path = `/channels/${channelId}/messages`;
    const answer = await this.call("POST", path, { ...body, enforce_nonce: true }, true, file);
    return String(answer.id ?? "");
  }
}
