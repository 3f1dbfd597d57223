import { z } from "zod";

/**
 * The parts of Slack's Events API and interactivity payloads the adapter reads. Unknown fields pass (Slack adds
 * fields freely); anything the adapter relies on is checked, so a malformed payload is a 400, never a crash.
 */
const id = z.string().min(1).max(256);

const UrlVerification = z.object({ type: z.literal("url_verification"), challenge: z.string().max(1024) });

export const MessageEvent = z.object({
  type: z.enum(["message", "app_mention"]),
  channel: id,
  user: id.optional(),
  text: z
    .string()
    .max(64 * 1024)
    .default(""),
  ts: id,
  thread_ts: id.optional(),
  channel_type: z.string().max(32).optional(),
  bot_id: z.string().optional(),
  subtype: z.string().optional(),
  files: z
    .array(
      z.object({
        id: z.string().max(256),
        name: z.string().max(256).optional(),
        mimetype: z.string().max(128).optional(),
        size: z.number().int().nonnegative().optional(),
        url_private: z.string().max(2048).optional(),
      }),
    )
    .max(32)
    .optional(),
});
export type MessageEvent = z.infer<typeof MessageEvent>;

export const EventCallback = z.object({
  type: z.literal("event_callback"),
  team_id: id,
  api_app_id: z.string().optional(),
  event_id: id,
  event: z.object({ type: z.string().max(64) }).passthrough(),
  authorizations: z.array(z.object({ user_id: z.string().optional(), is_bot: z.boolean().optional() })).optional(),
});
export type EventCallback = z.infer<typeof EventCallback>;

export const EventsApiBody = z.discriminatedUnion("type", [UrlVerification, EventCallback]);

export const BlockActions = z.object({
  type: z.literal("block_actions"),
  trigger_id: id,
  team: z.object({ id }).nullable().optional(),
  user: z.object({ id, username: z.string().optional(), name: z.string().optional(), team_id: z.string().optional() }),
  channel: z.object({ id }).optional(),
  container: z
    .object({ message_ts: z.string().optional(), thread_ts: z.string().optional(), channel_id: z.string().optional() })
    .optional(),
  message: z.object({ ts: z.string().optional(), thread_ts: z.string().optional() }).passthrough().optional(),
  actions: z
    .array(z.object({ action_id: z.string().max(255), value: z.string().max(2000).optional() }))
    .min(1)
    .max(25),
});
export type BlockActions = z.infer<typeof BlockActions>;
