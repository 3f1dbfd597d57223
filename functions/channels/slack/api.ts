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

export class SlackApi {
  private readonly options: SlackApiOptions;
  constructor(options: SlackApiOptions) {
    this.options = options;
  }

  async call(method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await platformFetch("slack", `${this.options.baseUrl.replace(/\/$/, "")}/${method}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.options.token}`,
        "content-type": "application/json; charset=utf-8",
      },
      body: JSON.stringify(body),
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
  }): Promise<string> {
    const answer = await this.call("chat.postMessage", message);
    return String(answer.ts ?? "");
  }

  async postEphemeral(message: { channel: string; user: string; text: string; thread_ts?: string }): Promise<void> {
    await this.call("chat.postEphemeral", message);
  }

  async update(message: { channel: string; ts: string; text: string; blocks?: unknown[] }): Promise<void> {
    await this.call("chat.update", message);
  }
}
