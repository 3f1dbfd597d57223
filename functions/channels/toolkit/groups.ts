import { z } from "zod";

/**
 * Which group conversations an adapter answers, and when (OpenClaw's group model): a direct chat is always for the
 * bot, but in a group most messages are people talking to each other, so by default the agent answers a group
 * message only when it addresses the bot (a mention, a reply to the bot, a command for it, a slash command).
 *
 * - `policy`: `open` (default) answers in every group the channel's routes reach, `allowlist` only in the groups
 *   named in `groups`, `disabled` in none (direct chats only).
 * - `groups`: per conversation id, or `*` for every group not named: `requireMention` (default true).
 *
 * What counts as addressing the bot is the platform's business (each adapter's inbound.ts); what a group is, too
 * (Telegram groups and supergroups, Slack channels and group DMs, Discord guild channels; WhatsApp conversations are
 * all one-to-one).
 */
const conversationKey = z.string().min(1).max(256);

export const GroupPolicy = z.enum(["open", "allowlist", "disabled"]);
export type GroupPolicy = z.infer<typeof GroupPolicy>;

export const GroupSettings = z
  .strictObject({
    requireMention: z
      .boolean()
      .default(true)
      .describe("Answer only messages that address the bot (a mention, a reply to it, a command for it)."),
  })
  .describe("How the agent answers in one group conversation.");

export const ChannelGroups = z.strictObject({
  policy: GroupPolicy.default("open"),
  groups: z.record(conversationKey, GroupSettings).default({}),
});
export type ChannelGroups = z.infer<typeof ChannelGroups>;

/** What an adapter knows about a group message: set only for messages in a group conversation. */
export interface GroupContext {
  /** The message addresses the bot: a mention, a reply to one of its messages, a command for it. */
  addressed: boolean;
}

export type GroupRefusal = "group_disabled" | "group_not_allowed" | "not_addressed";

/** Why a group message is not for the agent, or undefined when it is (and for every direct message). */
export function groupRefusal(
  config: ChannelGroups,
  conversation: string,
  group: GroupContext | undefined,
): GroupRefusal | undefined {
  if (group === undefined) return undefined;
  if (config.policy === "disabled") return "group_disabled";
  const own = Object.hasOwn(config.groups, conversation) ? config.groups[conversation] : undefined;
  const settings = own ?? (Object.hasOwn(config.groups, "*") ? config.groups["*"] : undefined);
  if (config.policy === "allowlist" && settings === undefined) return "group_not_allowed";
  if ((settings?.requireMention ?? true) && !group.addressed) return "not_addressed";
  return undefined;
}
