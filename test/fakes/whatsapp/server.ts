import { createHmac, randomBytes } from "node:crypto";
import { FakeServer } from "../../functions/channels/support/fake-server.ts";

/**
 * A local WhatsApp Cloud API: `POST /v21.0/{phone_number_id}/messages` with Graph's answers
 * (`{"messaging_product":"whatsapp","contacts":[...],"messages":[{"id":"wamid..."}]}`; errors as
 * `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`, throughput limits as HTTP 400 code 130429, an
 * expired token as 401 code 190), and the sending side of webhooks: `X-Hub-Signature-256` over the raw bytes, with
 * non-ASCII escaped as `\uXXXX` the way Meta serialises.
 */
export interface WhatsAppSend {
  phoneNumberId: string;
  body: Record<string, unknown>;
  id: string;
  /** A document message: the uploaded media it sends. */
  media?: Media;
}

interface Media {
  filename: string;
  type: string;
  content: string;
}

/** Media types a document may have (Meta's list; text/plain among them) and its size limit, 100 MB. */
const DOCUMENT_TYPES = new Set([
  "text/plain",
  "application/pdf",
  "application/vnd.ms-excel",
  "application/msword",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
]);
const DOCUMENT_LIMIT = 100 * 1024 * 1024;

export type ScriptedAnswer = { status: number; code: number; message: string };

export class FakeWhatsApp extends FakeServer<WhatsAppSend> {
  readonly accessToken = "EAAG-fake-access-token";
  readonly phoneNumberIds = new Set(["106540352242922"]);
  readonly script: ScriptedAnswer[] = [];
  /** Uploaded media by id (`POST /{phone_number_id}/media`). */
  private readonly media = new Map<string, Media>();

  get apiBaseUrl(): string {
    return `${this.url}/v21.0`;
  }

  protected async handle(request: Request, path: string): Promise<Response> {
    const match = /^\/v21\.0\/([^/]+)\/(messages|media)$/.exec(path);
    if (!match || request.method !== "POST") return graphError(400, 100, "Unknown path components", "OAuthException");
    if (request.headers.get("authorization") !== `Bearer ${this.accessToken}`) {
      return graphError(401, 190, "Invalid OAuth access token - Cannot parse access token", "OAuthException");
    }
    const scripted = this.script.shift();
    if (scripted !== undefined) return graphError(scripted.status, scripted.code, scripted.message);
    const phoneNumberId = decodeURIComponent(match[1]!);
    if (!this.phoneNumberIds.has(phoneNumberId)) {
      return graphError(
        400,
        100,
        `Unsupported post request. Object with ID '${phoneNumberId}' does not exist`,
        "GraphMethodException",
      );
    }
    if (match[2] === "media") return this.upload(request);
    let body: Record<string, unknown>;
    try {
      body = (await request.json()) as Record<string, unknown>;
    } catch {
      return graphError(400, 100, "Invalid parameter");
    }
    if (body.messaging_product !== "whatsapp")
      return graphError(400, 100, "The parameter messaging_product is required.");
    if (typeof body.to !== "string" || !/^\d{6,15}$/.test(body.to))
      return graphError(400, 131030, "Recipient phone number not in allowed list");
    const problem = validate(body);
    if (problem !== undefined) return graphError(400, 131009, `Parameter value is not valid: ${problem}`);
    // A reply quotes context.message_id; one Meta cannot find (deleted, older than 30 days) goes out unquoted.
    const context = (body.context as { message_id?: unknown } | undefined)?.message_id;
    if (body.context !== undefined && typeof context !== "string")
      return graphError(400, 131009, "Parameter value is not valid: context.message_id");
    let media: Media | undefined;
    if (body.type === "document") {
      media = this.media.get(String((body.document as { id?: unknown }).id));
      if (media === undefined) return graphError(400, 131053, "Media upload error: no such media id");
    }
    const id = `wamid.${randomBytes(12).toString("base64url")}`;
    this.record({ phoneNumberId, body, id, ...(media !== undefined ? { media } : {}) });
    return Response.json({
      messaging_product: "whatsapp",
      contacts: [{ input: body.to, wa_id: body.to }],
      messages: [{ id }],
    });
  }

  /** `POST /{phone_number_id}/media`: multipart messaging_product, type and file; answers the media id. */
  private async upload(request: Request): Promise<Response> {
    let form: FormData;
    try {
      form = await request.formData();
    } catch {
      return graphError(400, 100, "Invalid parameter");
    }
    const file = form.get("file");
    if (form.get("messaging_product") !== "whatsapp")
      return graphError(400, 100, "The parameter messaging_product is required.");
    if (file === null || typeof file === "string") return graphError(400, 100, "The parameter file is required.");
    const type = String(form.get("type") ?? "");
    if (!DOCUMENT_TYPES.has(type) || file.type.split(";")[0] !== type)
      return graphError(400, 131053, `Media upload error: unsupported type ${type}`);
    if (file.size > DOCUMENT_LIMIT) return graphError(400, 131053, "Media upload error: file too large");
    const id = String(1_000_000_000_000_000 + this.media.size);
    this.media.set(id, { filename: file.name, type, content: Buffer.from(await file.arrayBuffer()).toString("utf8") });
    return Response.json({ id });
  }
}

function validate(body: Record<string, unknown>): string | undefined {
  if (body.type === "document") {
    const document = body.document as
      | { id?: unknown; link?: unknown; caption?: unknown; filename?: unknown }
      | undefined;
    if (document === undefined || (document.id === undefined && document.link === undefined))
      return "document.id or document.link is required";
    if (typeof document.caption === "string" && document.caption.length > 1024) return "document.caption is too long";
    return undefined;
  }
  if (body.type === "text") {
    const text = (body.text as { body?: unknown } | undefined)?.body;
    if (typeof text !== "string" || text.length === 0) return "text.body is required";
    if (text.length > 4096) return "text.body is too long";
    return undefined;
  }
  if (body.type === "interactive") {
    const interactive = body.interactive as {
      type?: string;
      body?: { text?: string };
      action?: { buttons?: Array<{ reply: { id: string; title: string } }> };
    };
    const text = interactive.body?.text ?? "";
    if (text.length === 0 || text.length > 1024) return "interactive.body.text must be 1-1024 characters";
    if (interactive.type === "button") {
      const buttons = interactive.action?.buttons ?? [];
      if (buttons.length < 1 || buttons.length > 3) return "between 1 and 3 buttons";
      for (const button of buttons) {
        if (button.reply.title.length > 20) return "button title is longer than 20 characters";
        if (button.reply.id.length > 256) return "button id is longer than 256 characters";
      }
    }
    return undefined;
  }
  return `unsupported type ${String(body.type)}`;
}

function graphError(status: number, code: number, message: string, type = "OAuthException"): Response {
  return Response.json({ error: { message, type, code, fbtrace_id: "AbCdEf123" } }, { status });
}

/** JSON as Meta writes it: non-ASCII characters escaped as \uXXXX. */
export function metaJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export function whatsappRequest(url: string, appSecret: string | null, rawBody: string): Request {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (appSecret !== null)
    headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", appSecret).update(rawBody).digest("hex")}`;
  return new Request(url, { method: "POST", headers, body: rawBody });
}

export function whatsappNotification(
  phoneNumberId: string,
  messages: Array<Record<string, unknown>>,
  contacts: Array<{ wa_id: string; name: string }> = [],
): unknown {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
              contacts: contacts.map((c) => ({ wa_id: c.wa_id, profile: { name: c.name } })),
              messages,
            },
          },
        ],
      },
    ],
  };
}

export function textMessage(from: string, id: string, body: string, timestamp = Math.floor(Date.now() / 1000)) {
  return { from, id, timestamp: String(timestamp), type: "text", text: { body } };
}

export function buttonReply(from: string, id: string, replyId: string, title: string) {
  return {
    from,
    id,
    timestamp: String(Math.floor(Date.now() / 1000)),
    type: "interactive",
    interactive: { type: "button_reply", button_reply: { id: replyId, title } },
  };
}
