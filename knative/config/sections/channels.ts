/**
 * Section `channels`: one adapter per chat platform (ARCHITECTURE.md, "Channels"). Each enabled type renders a public
 * ksvc `channel-<type>` that verifies the platform's webhooks, maps chats to agent instances (`routes`), filters
 * senders (`allow`/`deny`) and delivers `message.send` / `approval.requested` back to the platform.
 *
 * The channel engineer extends this file: the per-type requirements below say which secrets and settings each
 * adapter needs.
 */
import { z } from "zod";
import { AccessMode, InstanceAccessLists } from "../../../functions/channels/toolkit/config.ts";
import { GroupPolicy, GroupSettings } from "../../../functions/channels/toolkit/groups.ts";
import { WebhookHooks } from "../../../functions/channels/toolkit/webhook-hooks.ts";
import { ComponentName, EgressRule, KsvcKnobs, SecretRef } from "../primitives.ts";

const CONFIG_CHANNEL_TYPES = ["slack", "telegram", "discord", "whatsapp", "webhook"] as const;
export const ConfigChannelType = z.enum(CONFIG_CHANNEL_TYPES);
export type ConfigChannelType = z.infer<typeof ConfigChannelType>;

/**
 * What each adapter cannot run without. Secret keys become env vars named in UPPER_SNAKE (`signingSecret` ->
 * `SIGNING_SECRET`), settings too; `egress` are the platform API hosts the adapter calls.
 */
export const CHANNEL_REQUIREMENTS: Record<
  ConfigChannelType,
  { secrets: readonly string[]; settings: readonly string[]; egressHosts: readonly string[] }
> = {
  // files.slack.com takes the bytes of a long answer's file (files.getUploadURLExternal's upload URL).
  slack: { secrets: ["signingSecret", "botToken"], settings: [], egressHosts: ["slack.com", "files.slack.com"] },
  telegram: { secrets: ["botToken", "webhookSecret"], settings: [], egressHosts: ["api.telegram.org"] },
  discord: { secrets: ["botToken"], settings: ["publicKey", "applicationId"], egressHosts: ["discord.com"] },
  whatsapp: {
    secrets: ["appSecret", "accessToken", "verifyToken"],
    settings: ["phoneNumberId"],
    egressHosts: ["graph.facebook.com"],
  },
  // Each hook names its own secret key (default signingSecret); checked per hook below.
  webhook: { secrets: [], settings: [], egressHosts: [] },
};

/**
 * Channels that only bring messages in: the signed webhook starts runs and has nothing to post to, so no event is
 * routed to its adapter (it gets no Triggers) and no reply route may name it.
 */
export const RECEIVE_ONLY_CHANNELS: ReadonlySet<string> = new Set<ConfigChannelType>(["webhook"]);

const SecretKeyName = z.string().regex(/^[a-z][a-zA-Z0-9]{0,63}$/, { message: "a camelCase name" });

/** Which conversation goes to which instance; the first matching route wins, then `defaultInstance`. */
const ChannelRoute = z
  .strictObject({
    workspace: z.string().min(1).max(256).optional().describe("Slack team, Discord guild, WhatsApp business number."),
    conversation: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("Slack channel, Telegram chat id, Discord channel, WhatsApp phone number."),
    sender: z.string().min(1).max(256).optional().describe("A platform user id."),
    instance: ComponentName,
  })
  .refine((route) => route.workspace !== undefined || route.conversation !== undefined || route.sender !== undefined, {
    message: "a route matches on at least one of workspace, conversation or sender (use defaultInstance for the rest)",
    params: { rule: "channel-route" },
  });

const Channel = KsvcKnobs.extend({
  enabled: z.boolean().default(true).describe("Render the adapter and its Triggers."),
  secrets: z
    .record(SecretKeyName, SecretRef)
    .default({})
    .describe(
      "Secret references by camelCase key: slack `signingSecret`, `botToken`; telegram `botToken`, `webhookSecret`; discord `botToken`; whatsapp `appSecret`, `accessToken`, `verifyToken`; webhook one per hook.",
    ),
  settings: z
    .record(SecretKeyName, z.string().max(4096))
    .default({})
    .describe("Non-secret settings by camelCase key: discord `publicKey`, `applicationId`; whatsapp `phoneNumberId`."),
  routes: z
    .array(ChannelRoute)
    .default([])
    .describe("Which conversation goes to which instance; the first matching route wins, then `defaultInstance`."),
  defaultInstance: ComponentName.optional().describe("The instance for messages no route matches."),
  access: AccessMode.default("pairing").describe(
    "Who may talk: `pairing` (default) lets allow-listed and paired senders talk and gives unknown senders a pairing code; `allowlist` ignores everyone else; `open` lets everyone not denied talk.",
  ),
  allow: z
    .array(z.string().min(1).max(256))
    .default([])
    .describe(
      "Senders allowed to talk to every instance: a platform user id, `<workspace>/<user id>`, `person:<p>` or `*`.",
    ),
  deny: z.array(z.string().min(1).max(256)).default([]).describe("Senders always refused; deny wins over allow."),
  instances: z
    .record(ComponentName, InstanceAccessLists)
    .default({})
    .describe("Per-instance allow and deny lists, added to the channel-wide ones."),
  groupPolicy: GroupPolicy.default("open").describe(
    "Which group conversations are answered: `open` (default) every group the routes reach, `allowlist` only those named in `groups`, `disabled` none (direct chats only). Slack channels and group DMs, Telegram groups, Discord guild channels are groups; WhatsApp chats are one-to-one.",
  ),
  groups: z
    .record(z.string().min(1).max(256), GroupSettings)
    .default({})
    .describe(
      "Per group conversation id, or `*` for every group not named: `requireMention` (default true) answers only messages that address the bot (a mention, a reply to it, a command for it; a Discord slash command always does).",
    ),
  hooks: WebhookHooks.default({}).describe(
    "The generic webhook's hooks (`/channels/webhook/<hook>`); see functions/channels/toolkit/webhook-hooks.ts.",
  ),
  egress: z.array(EgressRule).default([]).describe("Extra egress beyond the platform API hosts."),
});
type ChannelConfig = z.infer<typeof Channel>;

const Channels = z.partialRecord(ConfigChannelType, Channel).superRefine((channels, ctx) => {
  for (const [type, channel] of Object.entries(channels) as [ConfigChannelType, ChannelConfig][]) {
    if (!channel.enabled) continue;
    const needs = CHANNEL_REQUIREMENTS[type];
    for (const key of needs.secrets) {
      if (channel.secrets[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          input: channel.secrets,
          path: [type, "secrets", key],
          message: `the ${type} adapter needs the Secret reference secrets.${key}`,
          params: { rule: "channel-secrets" },
        });
      }
    }
    for (const key of needs.settings) {
      if (channel.settings[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          input: channel.settings,
          path: [type, "settings", key],
          message: `the ${type} adapter needs settings.${key}`,
          params: { rule: "channel-settings" },
        });
      }
    }
    if (type === "webhook") {
      if (Object.keys(channel.hooks).length === 0) {
        ctx.addIssue({
          code: "custom",
          input: channel,
          path: [type, "hooks"],
          message: "an enabled webhook channel needs at least one hook",
          params: { rule: "webhook-hooks" },
        });
      }
      for (const [name, hook] of Object.entries(channel.hooks)) {
        if (channel.secrets[hook.secret] === undefined) {
          ctx.addIssue({
            code: "custom",
            input: channel.secrets,
            path: [type, "hooks", name, "secret"],
            message: `hook ${name} needs the Secret reference secrets.${hook.secret}`,
            params: { rule: "channel-secrets" },
          });
        }
      }
      continue;
    }
    if (channel.routes.length === 0 && channel.defaultInstance === undefined) {
      ctx.addIssue({
        code: "custom",
        input: channel,
        path: [type],
        message: "an enabled channel needs routes or a defaultInstance, or no message reaches an agent",
        params: { rule: "channel-route" },
      });
    }
  }
});

export const channelsSection = {
  channels: Channels.default({}),
};
