import { platformFetch } from "../toolkit/platform-call.ts";
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
    const url = `${this.options.baseUrl.replace(/\/$/, "")}/${encodeURIComponent(phoneNumberId)}/messages`;
    const response = await platformFetch("whatsapp", url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.options.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ messaging_product: "whatsapp", recipient_type: "individual", ...message }),
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    const json = response.json as
      | { messages?: Array<{ id?: unknown }>; error?: { code?: unknown; message?: unknown } }
      | undefined;
    if (response.status === 200 && json?.messages?.[0]?.id !== undefined) return String(json.messages[0].id);
    const code = typeof json?.error?.code === "number" ? json.error.code : undefined;
    const details = {
      code: code !== undefined ? String(code) : undefined,
      httpStatus: response.status,
      retryAfterMs: response.retryAfterMs,
    };
    if (code !== undefined && RATE_LIMIT_CODES.has(code))
      throw new PlatformError("whatsapp", "rate_limited", `rate limited (${code})`, details);
    if (code !== undefined && TRANSIENT_CODES.has(code))
      throw new PlatformError("whatsapp", "unavailable", `unavailable (${code})`, details);
    if (code !== undefined && AUTH_CODES.has(code))
      throw new PlatformError("whatsapp", "auth", `credentials refused (${code})`, details);
    if (response.status === 200) throw new PlatformError("whatsapp", "unavailable", "answer without a message id");
    if (response.status >= 500 || response.status === 429)
      throw errorFromStatus("whatsapp", response.status, response.retryAfterMs, details.code);
    throw new PlatformError("whatsapp", "rejected", `refused (${code ?? response.status})`, details);
  }
}
