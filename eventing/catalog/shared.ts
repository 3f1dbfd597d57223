import { z } from "zod";

/** Building blocks several events share. */

const CHANNEL_TYPES = ["slack", "telegram", "discord", "whatsapp", "webhook", "http"] as const;
export const ChannelType = z.enum(CHANNEL_TYPES);
export type ChannelType = z.infer<typeof ChannelType>;

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS label: lowercase letters, digits and '-'");
export const InstanceName = name;
export const SkillName = name;

/** Who spoke or decided, as the platform knows them, plus the knclaw identity they are linked to when known. */
export const Identity = z.object({
  channel: ChannelType,
  /** The platform's own user id (Slack user, Telegram user id as a string: ids exceed 32 bits, Discord snowflake, phone). */
  id: z.string().min(1).max(256),
  /** Workspace / team / guild / business phone number the id belongs to, when the platform scopes ids. */
  workspace: z.string().max(256).optional(),
  displayName: z.string().max(256).optional(),
  /** The knclaw identity this platform identity is linked to (joins one person across channels). */
  person: z.string().max(256).optional(),
});
export type Identity = z.infer<typeof Identity>;

/** Where answers go: enough for the channel adapter to post without looking anything up. */
export const ReplyRoute = z.object({
  channel: ChannelType,
  /** Slack channel, Telegram chat id, Discord channel, WhatsApp phone number, gateway run id. */
  conversation: z.string().min(1).max(256),
  /** Slack thread_ts, Telegram message_thread_id, Discord thread. */
  thread: z.string().max(256).optional(),
  workspace: z.string().max(256).optional(),
  /** Platform specifics the adapter needs to answer (e.g. Discord interaction token and application id). */
  meta: z.record(z.string(), z.string().max(4096)).optional(),
});
export type ReplyRoute = z.infer<typeof ReplyRoute>;

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

const TOOL_ERROR_CLASSES = [
  "ValidationFailed",
  "NotFound",
  "Conflict",
  "PermissionDenied",
  "AuthExpired",
  "RateLimited",
  "Timeout",
  "Unavailable",
  "Internal",
] as const;
export const ToolErrorClass = z.enum(TOOL_ERROR_CLASSES);
export type ToolErrorClass = z.infer<typeof ToolErrorClass>;

/**
 * A typed tool failure (ARCHITECTURE.md, "Typed tool errors"): the class the agent feeds the model and its retry policy
 * acts on.
 */
export const ToolError = z.object({
  class: ToolErrorClass,
  message: z.string().max(4096),
  retryable: z.boolean(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ToolError = z.infer<typeof ToolError>;

/** Text that came from outside the trust boundary (tool output, webhook payloads): the model is told so. */
const UntrustedContent = z.object({
  untrusted: z.literal(true),
  source: z.string().max(256),
  content: z.unknown(),
});
export type UntrustedContent = z.infer<typeof UntrustedContent>;

export const Button = z.object({
  id: z.string().min(1).max(64),
  label: z.string().min(1).max(80),
  style: z.enum(["primary", "danger", "default"]).optional(),
});
export type Button = z.infer<typeof Button>;

/**
 * Due-time timers (the memory service keeps them; ARCHITECTURE.md, "Deadlines"). A timer is named by its instance,
 * the function it wakes, a kind and an id; its kind says what the woken function does (`deadline`: the agent checks
 * the run `id` against its deadlines), its id what it is about (a run id).
 */
export const TimerTarget = z.enum(["agent", "gateway"]);
export type TimerTarget = z.infer<typeof TimerTarget>;
export const TimerKind = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "lowercase letters, digits and '-' (at most 32)");
export const TimerId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/, "letters, digits, '.', '_', ':' and '-' (at most 200)");
/** What the arming function wants back when the timer fires: a small JSON object. */
export const TimerData = z
  .record(z.string(), z.json())
  .refine((data) => JSON.stringify(data).length <= 4096, "at most 4096 characters of JSON");
