import type { ButtonPress, InboundMessage } from "../toolkit/inbound.ts";
import type { BlockActions, EventCallback, MessageEvent } from "./payloads.ts";

/** Slack payloads -> the toolkit's normalised inbound shapes. */

/**
 * Message subtypes that are still a person writing; every other subtype (joins, bot posts, and edits and deletions:
 * `message_changed`, `message_deleted`, since the agent answered the original already) is ignored.
 */
const PERSON_SUBTYPES = new Set(["file_share", "thread_broadcast"]);

function botUsers(callback: EventCallback): string[] {
  return (callback.authorizations ?? []).filter((a) => a.is_bot && a.user_id !== undefined).map((a) => a.user_id!);
}

/** Why a message event is not for the agent, or undefined when it is. */
export function ignoreReason(callback: EventCallback, event: MessageEvent): string | undefined {
  if (event.bot_id !== undefined) return "bot message";
  if (event.subtype !== undefined && !PERSON_SUBTYPES.has(event.subtype)) return `subtype ${event.subtype}`;
  if (event.user === undefined) return "no user";
  if (botUsers(callback).includes(event.user)) return "own message";
  return undefined;
}

/** `<@BOT> what is up` is addressed to the bot, and says `what is up`: the mention is not part of the question. */
function withoutLeadingMention(callback: EventCallback, text: string): string {
  const match = /^<@([A-Z0-9]+)(?:\|[^>]*)?>\s*/.exec(text);
  return match !== null && botUsers(callback).includes(match[1]!) ? text.slice(match[0].length) : text;
}

/**
 * Whether a channel message addresses the bot: Slack's own app_mention event, or a `<@BOT>` mention in the text of
 * the message event (the same post arrives as both when both are subscribed; they are one message: app.ts).
 */
function addressesBot(callback: EventCallback, event: MessageEvent): boolean {
  if (event.type === "app_mention") return true;
  return botUsers(callback).some((id) => event.text.includes(`<@${id}>`) || event.text.includes(`<@${id}|`));
}

export function slackMessage(callback: EventCallback, event: MessageEvent): InboundMessage {
  const team = callback.team_id;
  // app_mention events carry no channel_type: they happen in channels only.
  const direct = event.channel_type === "im";
  // In channels the answer goes in a thread under the message; in a DM only when the person wrote in a thread.
  const replyThread = event.thread_ts ?? (direct ? undefined : event.ts);
  return {
    // A message is identified by channel and ts: Slack's retries repeat it, and so does the app_mention event that
    // accompanies a message event for the same post when both are subscribed.
    dedupKey: `${team}:${event.channel}:${event.ts}`,
    messageId: event.ts,
    workspace: team,
    conversation: event.channel,
    ...(event.thread_ts !== undefined ? { thread: event.thread_ts } : {}),
    sender: { channel: "slack", id: event.user!, workspace: team },
    text: withoutLeadingMention(callback, event.text),
    attachments: (event.files ?? []).map((file) => ({
      platformId: file.id,
      ...(file.name !== undefined ? { name: file.name } : {}),
      ...(file.mimetype !== undefined ? { mimeType: file.mimetype } : {}),
      ...(file.size !== undefined ? { size: file.size } : {}),
    })),
    replyTo: {
      channel: "slack",
      conversation: event.channel,
      workspace: team,
      ...(replyThread !== undefined ? { thread: replyThread } : {}),
    },
    // Channels, private channels and group DMs are groups; a DM is always for the bot.
    ...(direct ? {} : { group: { addressed: addressesBot(callback, event) } }),
  };
}

export function slackPress(payload: BlockActions): ButtonPress | undefined {
  const action = payload.actions[0]!;
  const conversation = payload.channel?.id ?? payload.container?.channel_id;
  if (conversation === undefined) return undefined;
  const team = payload.team?.id ?? payload.user.team_id ?? "";
  const messageTs = payload.container?.message_ts ?? payload.message?.ts;
  const thread = payload.container?.thread_ts ?? payload.message?.thread_ts;
  const replyThread = thread ?? messageTs;
  return {
    dedupKey: `${team}:${payload.trigger_id}:${action.action_id}`,
    data: action.value ?? action.action_id,
    presser: {
      channel: "slack",
      id: payload.user.id,
      ...(team !== "" ? { workspace: team } : {}),
      ...(payload.user.username !== undefined ? { displayName: payload.user.username } : {}),
    },
    conversation,
    ...(thread !== undefined ? { thread } : {}),
    replyTo: {
      channel: "slack",
      conversation,
      ...(team !== "" ? { workspace: team } : {}),
      ...(replyThread !== undefined ? { thread: replyThread } : {}),
    },
  };
}
