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
}

export class DiscordApi {
  private readonly options: DiscordApiOptions;
  constructor(options: DiscordApiOptions) {
    this.options = options;
  }

  private async call(method: string, path: string, body: unknown, bot: boolean): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (bot) headers.authorization = `Bot ${this.options.botToken}`;
    const response = await platformFetch("discord", `${this.options.baseUrl.replace(/\/$/, "")}${path}`, {
      method,
      headers,
      body: JSON.stringify(body),
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

  async followUp(applicationId: string, token: string, body: DiscordMessageBody): Promise<string> {
    const answer = await this.call("POST", `/webhooks/${applicationId}/${token}`, body, false);
    return String(answer.id ?? "");
  }

  async createMessage(channelId: string, body: DiscordMessageBody & { nonce: string }): Promise<string> {
    const answer = await this.call("POST", `/channels/${channelId}/messages`, { ...body, enforce_nonce: true }, true);
    return String(answer.id ?? "");
  }
}
