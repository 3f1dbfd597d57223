import { type PlatformResponse, platformFetch } from "../toolkit/platform-call.ts";
import { errorFromStatus, PlatformError } from "../toolkit/platform-error.ts";

/**
 * WhatsApp Cloud API (Graph) message sends. Graph errors are `{"error":{"message","type","code","error_subcode"}}`,
 * often with HTTP 400 whatever the cause, so the error *code* decides: throughput and pair limits are rate limits,
 * 190 an expired token, 1/2/131000/131016 transient, the rest (24 h window closed, bad number, bad markup) permanent.
 */
export interface WhatsAppApiOptions {
  /** `https://graph.facebook.com/v21.0` unless pointed elsewhere (WHATSAPP_API_BASE_URL). */
  baseUrl: string;
  accessToken: string;
  fetch?: typeof fetch;
}

const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131056]);
const TRANSIENT_CODES = new Set([1, 2, 131000, 131016]);
const AUTH_CODES = new Set([190, 10, 200]);

export class WhatsAppApi {
  private readonly options: WhatsAppApiOptions;
  constructor(options: WhatsAppApiOptions) {
    this.options = options;
  }

  async sendMessage(phoneNumberId: string, message: Record<string, unknown>): Promise<string> {
    const response = await this.request(phoneNumberId, "messages", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messaging_product: "whatsapp", recipient_type: "individual", ...message }),
    });
    const json = response.json as { messages?: Array<{ id?: unknown }> } | undefined;
    if (response.status === 200 && json?.messages?.[0]?.id !== undefined) return String(json.messages[0].id);
    throw graphError(response);
  }

  /**
   * Upload a file for a document message (`POST /{phone-number-id}/media`, multipart: `messaging_product`, `type`,
   * `file`); its media id. Meta keeps uploaded media 30 days.
   */
  async uploadMedia(phoneNumberId: string, file: { filename: string; content: string; type: string }): Promise<string> {
    const form = new FormData();
    form.set("messaging_product", "whatsapp");
    form.set("type", file.type);
    form.set("file", new Blob([file.content], { type: file.type }), file.filename);
    const response = await this.request(phoneNumberId, "media", { body: form });
    const id = (response.json as { id?: unknown } | undefined)?.id;
    if (response.status === 200 && (typeof id === "string" || typeof id === "number")) return String(id);
    throw graphError(response);
  }

  private request(
    phoneNumberId: string,
    edge: string,
    init: { headers?: Record<string, string>; body: string | FormData },
  ) {
    const url = `${this.options.baseUrl.replace(/\/$/, "")}/${encodeURIComponent(phoneNumberId)}/${edge}`;
    return platformFetch("whatsapp", url, {
      method: "POST",
      ...init,
      headers: { authorization: `Bearer ${this.options.accessToken}`, ...init.headers },
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
  }
}

/** A Graph answer that is not a success, as the typed error its code means. */
function graphError(response: PlatformResponse): PlatformError {
  const json = response.json as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof json?.error?.code === "number" ? json.error.code : undefined;
  const details = {
    code: code !== undefined ? String(code) : undefined,
    httpStatus: response.status,
    retryAfterMs: response.retryAfterMs,
  };
  if (code !== undefined && RATE_LIMIT_CODES.has(code))
    return new PlatformError("whatsapp", "rate_limited", `rate limited (${code})`, details);
  if (code !== undefined && TRANSIENT_CODES.has(code))
    return new PlatformError("whatsapp", "unavailable", `unavailable (${code})`, details);
  if (code !== undefined && AUTH_CODES.has(code))
    return new PlatformError("whatsapp", "auth", `credentials refused (${code})`, details);
  if (response.status === 200) return new PlatformError("whatsapp", "unavailable", "answer without an id");
  if (response.status >= 500 || response.status === 429)
    return errorFromStatus("whatsapp", response.status, response.retryAfterMs, details.code);
  return new PlatformError("whatsapp", "rejected", `refused (${code ?? response.status})`, details);
}
