import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";
import { FakeServer } from "../../functions/channels/support/fake-server.ts";

/**
 * A local Discord: the REST routes the adapter calls (`/api/v10/webhooks/{app}/{token}[/messages/{@original|id}]`,
 * `/api/v10/channels/{id}/messages[/{id}]` with a bot token and enforced nonces; a PATCH edits a message, one that
 * exists), with Discord's errors (`{"message","code"}`, 10015 Unknown Webhook, 10008 Unknown Message, 50035 Invalid
 * Form Body, 429 with `retry_after` seconds as a float), and the calling side of an interactions endpoint: Ed25519-signed
 * interactions from an application key pair.
 */
const RFC8032_TEST1_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
export const RFC8032_TEST1_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

export interface DiscordCall {
  kind: "edit-original" | "follow-up" | "channel-message" | "edit-message" | "channel-edit";
  token?: string;
  channel?: string;
  body: Record<string, unknown>;
  /** The message created or edited. */
  id: string;
  /** Files sent with it (multipart `files[n]`, named in the payload's `attachments`). */
  files?: Array<{ filename: string; content: string }>;
}

/** Discord's upload limit for a bot's message without boosts: 10 MiB. */
const FILE_LIMIT = 10 * 1024 * 1024;

export type ScriptedAnswer = { status: 429; retryAfter: number } | { status: number; code: number; message: string };

export class FakeDiscord extends FakeServer<DiscordCall> {
  readonly applicationId = "1100000000000000001";
  readonly botToken = "MTEwMDAw.fake.bot-token";
  readonly publicKeyHex: string;
  private readonly privateKey: KeyObject;
  /** Interaction tokens Discord issued (valid for follow-ups). */
  readonly tokens = new Set<string>();
  readonly script: ScriptedAnswer[] = [];
  /**
   * Enforced nonces and the message each created: Discord checks a nonce's uniqueness "in the past few minutes" only,
   * so one older than `nonceWindowMs` is forgotten and its repeat posts again.
   */
  private readonly nonces = new Map<string, { id: string; at: number }>();
  nonceWindowMs = 3 * 60_000;
  /** The fake's clock, for the nonce window. */
  now: () => number = Date.now;
  /** The message each interaction's original response is (stable across edits, as on Discord). */
  private readonly originals = new Map<string, string>();
  /** Ids of the messages that exist (the bot's own and its interactions' responses). */
  private readonly messages = new Set<string>();
  private nextId = 1_200_000_000_000_000_000n;

  /** Defaults to the RFC 8032 section 7.1 TEST 1 key, so the application key is a published test vector. */
  constructor(secretKeyHex = RFC8032_TEST1_SECRET) {
    super();
    this.privateKey = createPrivateKey({
      key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(secretKeyHex, "hex")]),
      format: "der",
      type: "pkcs8",
    });
    this.publicKeyHex = createPublicKey(this.privateKey)
      .export({ format: "der", type: "spki" })
      .subarray(12)
      .toString("hex");
  }

  get apiBaseUrl(): string {
    return `${this.url}/api/v10`;
  }

  private snowflake(): string {
    this.nextId += 1n;
    return String(this.nextId);
  }

  protected async handle(request: Request, path: string): Promise<Response> {
    const scripted = this.script.shift();
    if (scripted !== undefined) {
      if ("retryAfter" in scripted) {
        return Response.json(
          { message: "You are being rate limited.", retry_after: scripted.retryAfter, global: false },
          { status: 429, headers: { "retry-after": String(Math.ceil(scripted.retryAfter)) } },
        );
      }
      return Response.json({ message: scripted.message, code: scripted.code }, { status: scripted.status });
    }
    let body: Record<string, unknown>;
    let files: DiscordCall["files"];
    try {
      ({ body, files } = await readBody(request));
    } catch {
      return Response.json({ message: "400: Bad Request", code: 0 }, { status: 400 });
    }
    if (files?.some((file) => Buffer.byteLength(file.content) > FILE_LIMIT))
      return Response.json({ message: "Request entity too large", code: 40005 }, { status: 413 });
    const attached = files !== undefined ? { files } : {};
    if (!this.referenceExists(body.message_reference))
      return Response.json(
        {
          message: "Invalid Form Body",
          code: 50035,
          errors: { message_reference: { _errors: [{ code: "REPLIES_UNKNOWN_MESSAGE" }] } },
        },
        { status: 400 },
      );
    const content = typeof body.content === "string" ? body.content : "";
    if (content.length > 2000) {
      return Response.json(
        {
          message: "Invalid Form Body",
          code: 50035,
          errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH" }] } },
        },
        { status: 400 },
      );
    }
    const webhook = /^\/api\/v10\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path);
    if (webhook) {
      const [, app, token, message] = webhook as unknown as [string, string, string, string | undefined];
      if (app !== this.applicationId || !this.tokens.has(token)) {
        return Response.json({ message: "Unknown Webhook", code: 10015 }, { status: 404 });
      }
      if (message !== undefined && request.method !== "PATCH")
        return Response.json({ message: "405: Method Not Allowed", code: 0 }, { status: 405 });
      if (message === undefined) {
        const id = this.snowflake();
        this.messages.add(id);
        this.record({ kind: "follow-up", token, body, id, ...attached });
        return Response.json({ id, content, channel_id: "0" });
      }
      if (message === "@original") {
        const id = this.originals.get(token) ?? this.snowflake();
        this.originals.set(token, id);
        this.messages.add(id);
        this.record({ kind: "edit-original", token, body, id });
        return Response.json({ id, content, channel_id: "0" });
      }
      if (!this.messages.has(message)) return unknownMessage();
      this.record({ kind: "edit-message", token, body, id: message });
      return Response.json({ id: message, content, channel_id: "0" });
    }
    const channel = /^\/api\/v10\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(path);
    if (channel && request.headers.get("authorization") !== `Bot ${this.botToken}`) {
      return Response.json({ message: "401: Unauthorized", code: 0 }, { status: 401 });
    }
    if (channel && channel[2] !== undefined && request.method === "PATCH") {
      const [, channelId, message] = channel as unknown as [string, string, string];
      if (!this.messages.has(message)) return unknownMessage();
      this.record({ kind: "channel-edit", channel: channelId, body, id: message });
      return Response.json({ id: message, content, channel_id: channelId });
    }
    if (channel && channel[2] === undefined && request.method === "POST") {
      const nonce = typeof body.nonce === "string" ? body.nonce : undefined;
      if (nonce !== undefined && nonce.length > 25)
        return Response.json({ message: "Invalid Form Body", code: 50035 }, { status: 400 });
      const earlier = nonce !== undefined ? this.nonces.get(nonce) : undefined;
      if (earlier !== undefined && body.enforce_nonce === true && this.now() - earlier.at < this.nonceWindowMs) {
        return Response.json({ id: earlier.id, content, channel_id: channel[1] });
      }
      const id = this.snowflake();
      if (nonce !== undefined) this.nonces.set(nonce, { id, at: this.now() });
      this.messages.add(id);
      this.record({ kind: "channel-message", channel: channel[1]!, body, id, ...attached });
      return Response.json({ id, content, channel_id: channel[1] });
    }
    return Response.json({ message: "404: Not Found", code: 0 }, { status: 404 });
  }

  /** A reply must name a message that exists, unless `fail_if_not_exists` is false. */
  private referenceExists(reference: unknown): boolean {
    if (reference === undefined) return true;
    const { message_id: id, fail_if_not_exists: fail } = reference as {
      message_id?: unknown;
      fail_if_not_exists?: unknown;
    };
    return (typeof id === "string" && this.messages.has(id)) || fail === false;
  }

  calls(kind: DiscordCall["kind"]): DiscordCall[] {
    return this.accepted.filter((call) => call.kind === kind);
  }

  /** Sign `timestamp + body` with the application's private key, as Discord does. */
  sign(timestamp: string, body: string): string {
    return sign(null, Buffer.from(timestamp + body), this.privateKey).toString("hex");
  }

  /** An interaction request as Discord sends it; the token is registered for follow-ups. */
  interactionRequest(
    url: string,
    interaction: Record<string, unknown>,
    options: { timestamp?: number; signature?: string | null } = {},
  ): Request {
    const token = typeof interaction.token === "string" ? interaction.token : `tok-${randomBytes(8).toString("hex")}`;
    this.tokens.add(token);
    const body = JSON.stringify({ application_id: this.applicationId, version: 1, token, ...interaction });
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = { "content-type": "application/json", "x-signature-timestamp": timestamp };
    const signature = options.signature === undefined ? this.sign(timestamp, body) : options.signature;
    if (signature !== null) headers["x-signature-ed25519"] = signature;
    return new Request(url, { method: "POST", headers, body });
  }
}

/**
 * A request body as Discord reads it: JSON, or multipart/form-data with the JSON in `payload_json` and each file in
 * `files[n]`, which must be named in the payload's `attachments` by its index.
 */
async function readBody(request: Request): Promise<{ body: Record<string, unknown>; files?: DiscordCall["files"] }> {
  if (!(request.headers.get("content-type") ?? "").startsWith("multipart/form-data"))
    return { body: (await request.json()) as Record<string, unknown> };
  const form = await request.formData();
  const body = JSON.parse(String(form.get("payload_json") ?? "{}")) as Record<string, unknown>;
  const named = new Set(((body.attachments ?? []) as Array<{ id?: unknown }>).map((a) => String(a.id)));
  const files: NonNullable<DiscordCall["files"]> = [];
  for (const [name, value] of form) {
    const index = /^files\[(\d+)\]$/.exec(name)?.[1];
    if (index === undefined || typeof value === "string") continue;
    if (!named.has(index)) throw new Error(`files[${index}] is not in attachments`);
    files.push({ filename: value.name, content: Buffer.from(await value.arrayBuffer()).toString("utf8") });
  }
  return { body, files };
}

function unknownMessage(): Response {
  return Response.json({ message: "Unknown Message", code: 10008 }, { status: 404 });
}

export function slashCommand(fields: {
  id: string;
  user: string;
  channel: string;
  guild?: string;
  name: string;
  text?: string;
  token?: string;
}) {
  return {
    id: fields.id,
    type: 2,
    ...(fields.token ? { token: fields.token } : {}),
    channel_id: fields.channel,
    ...(fields.guild !== undefined
      ? {
          guild_id: fields.guild,
          member: { user: { id: fields.user, username: "ada", global_name: "Ada" }, roles: [] },
        }
      : { user: { id: fields.user, username: "ada" } }),
    data: {
      id: "1300000000000000001",
      name: fields.name,
      type: 1,
      ...(fields.text !== undefined ? { options: [{ name: "prompt", type: 3, value: fields.text }] } : {}),
    },
  };
}

export function buttonPress(fields: {
  id: string;
  user: string;
  channel: string;
  guild?: string;
  customId: string;
  messageId: string;
}) {
  return {
    id: fields.id,
    type: 3,
    channel_id: fields.channel,
    ...(fields.guild !== undefined
      ? { guild_id: fields.guild, member: { user: { id: fields.user, username: "op" } } }
      : { user: { id: fields.user, username: "op" } }),
    message: { id: fields.messageId, content: "Approval needed" },
    data: { custom_id: fields.customId, component_type: 2 },
  };
}
