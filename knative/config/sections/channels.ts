/**
 * Section `channels`: one adapter per chat platform (DESIGN.md §6). Each enabled type renders a public ksvc
 * `channel-<type>` that verifies the platform's webhooks, maps chats to agent instances (`routes`), filters senders
 * (`allow`/`deny`) and delivers `message.send` / `approval.requested` back to the platform.
 *
 * The channel engineer extends this file: the per-type requirements below say which secrets and settings each
 * adapter needs.
 */
import { z } from "zod";
import { ComponentName, EgressRule, KsvcKnobs, SecretRef } from "../primitives.ts";

export const CONFIG_CHANNEL_TYPES = ["slack", "telegram", "discord", "whatsapp", "webhook"] as const;
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
  slack: { secrets: ["signingSecret", "botToken"], settings: [], egressHosts: ["slack.com"] },
  telegram: { secrets: ["botToken", "webhookSecret"], settings: [], egressHosts: ["api.telegram.org"] },
  discord: { secrets: ["botToken"], settings: ["publicKey", "applicationId"], egressHosts: ["discord.com"] },
  whatsapp: {
    secrets: ["appSecret", "accessToken", "verifyToken"],
    settings: ["phoneNumberId"],
    egressHosts: ["graph.facebook.com"],
  },
  webhook: { secrets: ["signingSecret"], settings: [], egressHosts: [] },
};

const SecretKeyName = z.string().regex(/^[a-z][a-zA-Z0-9]{0,63}$/, { message: "a camelCase name" });

/** Which conversation goes to which instance; the first matching route wins, then `defaultInstance`. */
export const ChannelRoute = z
  .strictObject({
    /** Slack team, Discord guild, WhatsApp business number. */
    workspace: z.string().min(1).max(256).optional(),
    /** Slack channel, Telegram chat id, Discord channel, WhatsApp phone number. */
    conversation: z.string().min(1).max(256).optional(),
    /** A platform user id. */
    sender: z.string().min(1).max(256).optional(),
    instance: ComponentName,
  })
  .refine((route) => route.workspace !== undefined || route.conversation !== undefined || route.sender !== undefined, {
    message: "a route matches on at least one of workspace, conversation or sender (use defaultInstance for the rest)",
    params: { rule: "channel-route" },
  });

export const Channel = KsvcKnobs.extend({
  enabled: z.boolean().default(true),
  /** Secret references by camelCase key (see CHANNEL_REQUIREMENTS). */
  secrets: z.record(SecretKeyName, SecretRef).default({}),
  /** Non-secret settings by camelCase key. */
  settings: z.record(SecretKeyName, z.string().max(4096)).default({}),
  routes: z.array(ChannelRoute).default([]),
  defaultInstance: ComponentName.optional(),
  /** Platform user ids allowed to talk to agents (empty: everyone not denied). */
  allow: z.array(z.string().min(1).max(256)).default([]),
  /** Platform user ids always refused; deny wins over allow. */
  deny: z.array(z.string().min(1).max(256)).default([]),
  /** Extra egress beyond the platform API hosts. */
  egress: z.array(EgressRule).default([]),
});
export type ChannelConfig = z.infer<typeof Channel>;

export const Channels = z.partialRecord(ConfigChannelType, Channel).superRefine((channels, ctx) => {
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
