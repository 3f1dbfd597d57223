import { createHmac } from "node:crypto";
import { FakeServer, readRequestBody } from "../../functions/channels/support/fake-server.ts";

/**
 * A local Slack: the Web API methods the adapter calls, with Slack's wire behaviour (errors as HTTP 200
 * `{"ok":false,"error":...}`, `not_authed` / `invalid_auth`, `channel_not_found`, `msg_too_long`, rate limits as
 * HTTP 429 with Retry-After), plus the sending side of the Events API (signed requests, retry headers).
 * Posted messages keep their `metadata` ({event_type, event_payload}); the read methods conversations.history (a
 * channel's top-level messages, newest first) and conversations.replies (a thread: its parent, then its replies,
 * oldest first) take form fields only, as Slack's read methods do, page with `limit` / `cursor`, bound by `oldest`,
 * and show a message's metadata only with `include_all_metadata`.
 */
export interface SlackPost {
  method: "chat.postMessage" | "chat.postEphemeral" | "chat.update" | "files.completeUploadExternal";
  channel: string;
  text: string;
  ts: string;
  thread_ts?: string;
  user?: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** A shared file (files.completeUploadExternal): its name and content; `text` is the initial comment. */
  file?: { id: string; filename: string; content: string };
}

/** Slack's file uploads: a one-time upload URL (files.getUploadURLExternal), the bytes, then the share. */
const FILE_METHODS = ["files.getUploadURLExternal", "files.completeUploadExternal"];
interface PendingUpload {
  filename: string;
  length: number;
  content?: string;
}

const READ_METHODS = ["conversations.history", "conversations.replies"];

export type ScriptedAnswer = { status: 429; retryAfter: number } | { status: 500 } | { error: string };

export class FakeSlack extends FakeServer<SlackPost> {
  readonly token: string;
  /** When set, only these channels exist. */
  channels: Set<string> | undefined;
  /** Answers given instead of accepting, one per call, before normal service resumes. */
  readonly script: ScriptedAnswer[] = [];
  /** Answers for one method only, before `script`. */
  readonly scriptedFor = new Map<string, ScriptedAnswer[]>();
  private seq = 0;
  /** Messages people posted (seedMessage), readable through the read methods beside the bot's own. */
  private readonly people: SlackPost[] = [];
  /** The bot token's scopes: the file methods need `files:write` (Slack answers `missing_scope` without it). */
  readonly scopes = new Set(["chat:write", "files:write"]);
  /** Upload tickets by file id, until completed. */
  private readonly uploads = new Map<string, PendingUpload>();
  /** Requests made to upload URLs (they carry no token: the URL is the credential). */
  readonly uploadRequests: Array<{ authorization: string | null }> = [];

  constructor(token = "xoxb-test-token") {
    super();
    this.token = token;
  }

  get apiBaseUrl(): string {
    return `${this.url}/api`;
  }

  protected async handle(request: Request, path: string): Promise<Response> {
    const upload = /^\/upload\/v1\/(F[A-Z0-9]+)$/.exec(path);
    if (upload) return this.receiveUpload(upload[1]!, request);
    const method = path.replace(/^\/api\//, "");
    if (![...READ_METHODS, ...FILE_METHODS, "chat.postMessage", "chat.postEphemeral", "chat.update"].includes(method)) {
      return Response.json({ ok: false, error: "unknown_method" }, { status: 404 });
    }
    const auth = request.headers.get("authorization");
    if (auth === null) return Response.json({ ok: false, error: "not_authed" });
    if (auth !== `Bearer ${this.token}`) return Response.json({ ok: false, error: "invalid_auth" });
    const scripted = this.scriptedFor.get(method)?.shift() ?? this.script.shift();
    if (scripted !== undefined) {
      if ("error" in scripted) return Response.json({ ok: false, error: scripted.error });
      if (scripted.status === 429) {
        return Response.json(
          { ok: false, error: "ratelimited" },
          { status: 429, headers: { "retry-after": String(scripted.retryAfter) } },
        );
      }
      return new Response("upstream connect error", { status: 500 });
    }
    let body: Record<string, unknown>;
    try {
      body = await readRequestBody(request);
    } catch {
      return Response.json({ ok: false, error: "invalid_json" });
    }
    if (READ_METHODS.includes(method)) return this.read(method, request, body);
    if (FILE_METHODS.includes(method)) return this.file(method, request, body);
    const channel = typeof body.channel === "string" ? body.channel : "";
    if (channel === "" || (this.channels !== undefined && !this.channels.has(channel))) {
      return Response.json({ ok: false, error: "channel_not_found" });
    }
    const text = typeof body.text === "string" ? body.text : "";
    if (text === "" && body.blocks === undefined) return Response.json({ ok: false, error: "no_text" });
    if (text.length > 40_000) return Response.json({ ok: false, error: "msg_too_long" });
    if (method === "chat.update" && typeof body.ts !== "string")
      return Response.json({ ok: false, error: "message_not_found" });
    const ts = method === "chat.update" ? (body.ts as string) : this.nextTs();
    this.record({
      method: method as SlackPost["method"],
      channel,
      text,
      ts,
      ...(typeof body.thread_ts === "string" ? { thread_ts: body.thread_ts } : {}),
      ...(typeof body.user === "string" ? { user: body.user } : {}),
      ...(Array.isArray(body.blocks) ? { blocks: body.blocks } : {}),
      ...(isMetadata(body.metadata) ? { metadata: body.metadata } : {}),
    });
    if (method === "chat.postEphemeral") return Response.json({ ok: true, message_ts: ts });
    return Response.json({ ok: true, channel, ts, message: { text, ts } });
  }

  /** files.getUploadURLExternal and files.completeUploadExternal, form fields only as Slack documents them. */
  private file(method: string, request: Request, body: Record<string, unknown>): Response {
    if (!this.scopes.has("files:write"))
      return Response.json({
        ok: false,
        error: "missing_scope",
        needed: "files:write",
        provided: [...this.scopes].join(","),
      });
    if ((request.headers.get("content-type") ?? "").startsWith("application/json"))
      return Response.json({ ok: false, error: "invalid_arguments" });
    if (method === "files.getUploadURLExternal") {
      const length = Number(body.length);
      if (typeof body.filename !== "string" || body.filename === "" || !Number.isInteger(length) || length < 1)
        return Response.json({ ok: false, error: "invalid_arguments" });
      const id = `F${String(++this.seq).padStart(10, "0")}`;
      this.uploads.set(id, { filename: body.filename, length });
      return Response.json({ ok: true, upload_url: `${this.url}/upload/v1/${id}`, file_id: id });
    }
    let files: Array<{ id?: unknown; title?: unknown }>;
    try {
      files = JSON.parse(String(body.files)) as Array<{ id?: unknown; title?: unknown }>;
    } catch {
      return Response.json({ ok: false, error: "invalid_arguments" });
    }
    const channel = typeof body.channel_id === "string" ? body.channel_id : "";
    if (channel === "" || (this.channels !== undefined && !this.channels.has(channel)))
      return Response.json({ ok: false, error: "channel_not_found" });
    const shared: Array<{ id: string; title: string }> = [];
    for (const entry of Array.isArray(files) ? files : []) {
      const pending = typeof entry.id === "string" ? this.uploads.get(entry.id) : undefined;
      if (pending?.content === undefined) return Response.json({ ok: false, error: "file_not_found" });
      this.uploads.delete(entry.id as string);
      shared.push({ id: entry.id as string, title: typeof entry.title === "string" ? entry.title : pending.filename });
      this.record({
        method: "files.completeUploadExternal",
        channel,
        text: typeof body.initial_comment === "string" ? body.initial_comment : "",
        ts: this.nextTs(),
        ...(typeof body.thread_ts === "string" ? { thread_ts: body.thread_ts } : {}),
        file: { id: entry.id as string, filename: pending.filename, content: pending.content },
      });
    }
    if (shared.length === 0) return Response.json({ ok: false, error: "invalid_arguments" });
    return Response.json({ ok: true, files: shared });
  }

  /** The bytes of an upload: exactly the length the ticket was asked for, as Slack checks. */
  private async receiveUpload(id: string, request: Request): Promise<Response> {
    this.uploadRequests.push({ authorization: request.headers.get("authorization") });
    const pending = this.uploads.get(id);
    if (pending === undefined || request.method !== "POST") return new Response("Not Found", { status: 404 });
    const bytes = Buffer.from(await request.arrayBuffer());
    if (bytes.byteLength !== pending.length) return new Response("length mismatch", { status: 400 });
    pending.content = bytes.toString("utf8");
    return new Response(`OK - ${bytes.byteLength}`, { status: 200 });
  }

  /** A message a person posted in `channel` (the start of a thread the bot answers in); its ts. */
  seedMessage(channel: string, text: string): string {
    const ts = this.nextTs();
    this.people.push({ method: "chat.postMessage", channel, text, ts });
    return ts;
  }

  /** Slack's ts: the time in seconds, and a sequence in the fraction so that every message's is unique. */
  private nextTs(): string {
    return `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, "0")}`;
  }

  /** conversations.history / conversations.replies over the messages posted here and those people posted. */
  private read(method: string, request: Request, body: Record<string, unknown>): Response {
    // Slack's read methods take no JSON body: its fields are not seen, so the channel is missing.
    if ((request.headers.get("content-type") ?? "").startsWith("application/json"))
      return Response.json({ ok: false, error: "channel_not_found" });
    const channel = typeof body.channel === "string" ? body.channel : "";
    if (channel === "" || (this.channels !== undefined && !this.channels.has(channel)))
      return Response.json({ ok: false, error: "channel_not_found" });
    const oldest = Number(body.oldest ?? 0);
    const posted = [...this.people, ...this.posts()]
      .filter((post) => post.channel === channel && Number(post.ts) > oldest)
      .sort((a, b) => Number(a.ts) - Number(b.ts));
    let messages: SlackPost[];
    if (method === "conversations.replies") {
      const ts = typeof body.ts === "string" ? body.ts : undefined;
      if (ts === undefined) return Response.json({ ok: false, error: "invalid_arguments" });
      if (![...this.people, ...this.posts()].some((post) => post.channel === channel && post.ts === ts))
        return Response.json({ ok: false, error: "thread_not_found" });
      messages = posted.filter((post) => post.thread_ts === ts || post.ts === ts);
    } else {
      messages = posted.filter((post) => post.thread_ts === undefined).reverse();
    }
    const limit = Math.min(Math.max(Number(body.limit ?? 100), 1), 999);
    const from = Number(typeof body.cursor === "string" ? Buffer.from(body.cursor, "base64").toString() : 0);
    const page = messages.slice(from, from + limit);
    const more = from + limit < messages.length;
    const withMetadata = body.include_all_metadata === "true" || body.include_all_metadata === "1";
    return Response.json({
      ok: true,
      messages: page.map((post) => ({
        type: "message",
        text: post.text,
        ts: post.ts,
        ...(post.thread_ts !== undefined ? { thread_ts: post.thread_ts } : {}),
        ...(withMetadata && post.metadata !== undefined ? { metadata: post.metadata } : {}),
      })),
      has_more: more,
      ...(more ? { response_metadata: { next_cursor: Buffer.from(String(from + limit)).toString("base64") } } : {}),
    });
  }

  posts(method: SlackPost["method"] = "chat.postMessage"): SlackPost[] {
    return this.accepted.filter((post) => post.method === method);
  }
}

function isMetadata(value: unknown): value is SlackPost["metadata"] {
  const metadata = value as SlackPost["metadata"];
  return typeof metadata?.event_type === "string" && typeof metadata.event_payload === "object";
}

/** Sign a request as Slack does: `v0=` + HMAC-SHA256(secret, `v0:<ts>:<body>`). */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

export interface SlackDeliveryOptions {
  timestamp?: number;
  /** Slack's retry headers on a redelivery. */
  retryNum?: number;
  retryReason?: string;
  contentType?: string;
  signature?: string | null;
}

/** A request exactly as Slack sends one to an Events API or interactivity endpoint. */
export function slackRequest(url: string, secret: string, body: string, options: SlackDeliveryOptions = {}): Request {
  // Slack signs each attempt when it sends it: a retry carries a later timestamp than the attempt before.
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000) + (options.retryNum ?? 0));
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/json",
    "x-slack-request-timestamp": timestamp,
    "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
  };
  const signature = options.signature === undefined ? slackSignature(secret, timestamp, body) : options.signature;
  if (signature !== null) headers["x-slack-signature"] = signature;
  if (options.retryNum !== undefined) {
    headers["x-slack-retry-num"] = String(options.retryNum);
    headers["x-slack-retry-reason"] = options.retryReason ?? "http_timeout";
  }
  return new Request(url, { method: "POST", headers, body });
}

export function slackMessageEvent(fields: {
  team?: string;
  channel: string;
  user: string;
  text: string;
  ts: string;
  thread_ts?: string;
  channel_type?: string;
  event_id?: string;
  bot_id?: string;
  subtype?: string;
  botUserId?: string;
  /**
   * Whether the person addressed the bot: in a channel (not a DM) the text then begins with its mention, `<@UBOT>`,
   * as Slack writes an @-mention. Default true: most tests are about a message for the bot.
   */
  addressed?: boolean;
}): string {
  const bot = fields.botUserId ?? "UBOT";
  const inChannel = (fields.channel_type ?? "channel") !== "im";
  const text =
    inChannel && (fields.addressed ?? true) && !fields.text.startsWith(`<@${bot}>`)
      ? `<@${bot}> ${fields.text}`
      : fields.text;
  return JSON.stringify({
    token: "legacy-verification-token",
    team_id: fields.team ?? "T0001",
    api_app_id: "A0001",
    type: "event_callback",
    event_id: fields.event_id ?? `Ev${fields.ts.replace(".", "")}`,
    event_time: Math.floor(Number(fields.ts)),
    authorizations: [{ team_id: fields.team ?? "T0001", user_id: fields.botUserId ?? "UBOT", is_bot: true }],
    event: {
      type: "message",
      channel: fields.channel,
      user: fields.user,
      text,
      ts: fields.ts,
      ...(fields.thread_ts !== undefined ? { thread_ts: fields.thread_ts } : {}),
      channel_type: fields.channel_type ?? "channel",
      ...(fields.bot_id !== undefined ? { bot_id: fields.bot_id } : {}),
      ...(fields.subtype !== undefined ? { subtype: fields.subtype } : {}),
      event_ts: fields.ts,
    },
  });
}

/** An interactivity POST body: `payload=<json>` form-encoded, as Slack sends a block_actions press. */
export function slackBlockActionsBody(fields: {
  team?: string;
  user: string;
  channel: string;
  messageTs: string;
  threadTs?: string;
  value: string;
  triggerId?: string;
}): string {
  const payload = {
    type: "block_actions",
    team: { id: fields.team ?? "T0001", domain: "test" },
    user: { id: fields.user, username: "approver", team_id: fields.team ?? "T0001" },
    api_app_id: "A0001",
    trigger_id: fields.triggerId ?? `${Date.now()}.1.abc`,
    channel: { id: fields.channel, name: "ops" },
    container: {
      type: "message",
      message_ts: fields.messageTs,
      channel_id: fields.channel,
      ...(fields.threadTs !== undefined ? { thread_ts: fields.threadTs } : {}),
    },
    message: {
      ts: fields.messageTs,
      text: "Approval needed",
      ...(fields.threadTs ? { thread_ts: fields.threadTs } : {}),
    },
    response_url: "https://hooks.slack.com/actions/T0001/1/abc",
    actions: [
      { type: "button", action_id: fields.value, block_id: "b1", value: fields.value, action_ts: "1700000000.1" },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
