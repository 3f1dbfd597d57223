import { platformFetch } from "../toolkit/platform-call.ts";
import { errorFromStatus, PlatformError } from "../toolkit/platform-error.ts";

/**
 * Slack Web API calls the adapter makes. Slack answers errors as HTTP 200 `{"ok":false,"error":"..."}` and rate
 * limits as HTTP 429 with Retry-After (seconds); both become typed PlatformErrors.
 */
export interface SlackApiOptions {
  /** `https://slack.com/api` unless pointed elsewhere (SLACK_API_BASE_URL), e.g. at a local fake. */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
}

const AUTH_ERRORS = new Set([
  "not_authed",
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "no_permission",
  "missing_scope",
  "org_login_required",
  "ekm_access_denied",
]);
const TRANSIENT_ERRORS = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout"]);

/** Slack message metadata: an app's own event type and a small JSON payload, kept with the message. */
export interface SlackMetadata {
  event_type: string;
  event_payload: Record<string, string>;
}

interface SlackMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

export class SlackApi {
  private readonly options: SlackApiOptions;
  constructor(options: SlackApiOptions) {
    this.options = options;
  }

  /**
   * One Web API call. Write methods take JSON; read methods (conversations.*) only form fields, so `form` sends the
   * body as `application/x-www-form-urlencoded` (Slack reads no JSON there).
   */
  async call(method: string, body: Record<string, unknown>, form = false): Promise<Record<string, unknown>> {
    const response = await platformFetch("slack", `${this.options.baseUrl.replace(/\/$/, "")}/${method}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.options.token}`,
        "content-type": form ? "application/x-www-form-urlencoded" : "application/json; charset=utf-8",
      },
      body: form
        ? new URLSearchParams(Object.entries(body).map(([name, value]) => [name, String(value)])).toString()
        : JSON.stringify(body),
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    const json = response.json as { ok?: unknown; error?: unknown } | undefined;
    if (response.status !== 200) {
      throw errorFromStatus(
        "slack",
        response.status,
        response.retryAfterMs,
        typeof json?.error === "string" ? json.error : undefined,
      );
    }
    if (json === undefined || typeof json !== "object")
      throw new PlatformError("slack", "unavailable", "answer is not JSON");
    if (json.ok === true) return json as Record<string, unknown>;
    const code = typeof json.error === "string" ? json.error : "unknown_error";
    if (code === "ratelimited") {
      throw new PlatformError("slack", "rate_limited", code, { code, retryAfterMs: response.retryAfterMs });
    }
    if (AUTH_ERRORS.has(code)) throw new PlatformError("slack", "auth", code, { code });
    if (TRANSIENT_ERRORS.has(code)) throw new PlatformError("slack", "unavailable", code, { code });
    throw new PlatformError("slack", "rejected", code, { code });
  }

  async postMessage(message: {
    channel: string;
    text: string;
    thread_ts?: string;
    blocks?: unknown[];
    metadata?: SlackMetadata;
  }): Promise<string> {
    const answer = await this.call("chat.postMessage", message);
    return String(answer.ts ?? "");
  }

  /**
   * The ts of the message in `channel` (in the thread `thread`, if given) posted since `oldest` whose metadata has
   * this event type and payload `key`, read with `include_all_metadata` (conversations.replies for a thread,
   * conversations.history otherwise), newest first, at most `maxPages` pages of 200.
   */
  async findByMetadata(query: {
    channel: string;
    thread?: string | undefined;
    oldest: string;
    eventType: string;
    key: string;
    maxPages?: number;
  }): Promise<string | undefined> {
    let cursor: string | undefined;
    for (let page = 0; page < (query.maxPages ?? 5); page++) {
      const answer = await this.call(
        query.thread !== undefined ? "conversations.replies" : "conversations.history",
        {
          channel: query.channel,
          ...(query.thread !== undefined ? { ts: query.thread } : {}),
          oldest: query.oldest,
          limit: 200,
          include_all_metadata: true,
          ...(cursor !== undefined ? { cursor } : {}),
        },
        true,
      );
      const messages = Array.isArray(answer.messages) ? (answer.messages as SlackMessage[]) : [];
      const found = messages.find(
        (m) => m.metadata?.event_type === query.eventType && m.metadata.event_payload?.key === query.key,
      );
      if (found?.ts !== undefined) return found.ts;
      const next = (answer.response_metadata as { next_cursor?: unknown } | undefined)?.next_cursor;
      if (typeof next !== "string" || next === "") return undefined;
      cursor = next;
    }
    return undefined;
  }

  /**
   * A file in a conversation, the way Slack takes uploads now (files.upload is retired): files.getUploadURLExternal
   * for a one-time URL, the bytes posted there (the URL is the credential: the token is not sent to it), then
   * files.completeUploadExternal shares it in the channel (in the thread, if given) with a comment. Its file id.
   */
  async uploadFile(file: {
    channel: string;
    thread_ts?: string | undefined;
    filename: string;
    content: string;
    initial_comment: string;
  }): Promise<string> {
    const bytes = new TextEncoder().encode(file.content);
    const ticket = await this.call(
      "files.getUploadURLExternal",
      { filename: file.filename, length: bytes.byteLength },
      true,
    );
    const { upload_url: uploadUrl, file_id: fileId } = ticket;
    if (typeof uploadUrl !== "string" || typeof fileId !== "string")
      throw new PlatformError("slack", "unavailable", "upload ticket without a URL or file id");
    const uploaded = await platformFetch("slack", uploadUrl, {
      method: "POST",
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: bytes,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    if (uploaded.status !== 200) throw errorFromStatus("slack", uploaded.status, uploaded.retryAfterMs, "upload");
    await this.call(
      "files.completeUploadExternal",
      {
        files: JSON.stringify([{ id: fileId, title: file.filename }]),
        channel_id: file.channel,
        ...(file.thread_ts !== undefined ? { thread_ts: file.thread_ts } : {}),
        initial_comment: file.initial_comment,
      },
      true,
    );
    return fileId;
  }

  async postEphemeral(message: { channel: string; user: string; text: string; thread_ts?: string }): Promise<void> {
    await this.call("chat.postEphemeral", message);
  }

  async update(message: { channel: string; ts: string; text: string; blocks?: unknown[] }): Promise<void> {
    await this.call("chat.update", message);
  }
}
