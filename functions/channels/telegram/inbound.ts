import type { ButtonPress, InboundMessage } from "../toolkit/inbound.ts";
import type { CallbackQuery, TelegramMessage } from "./payloads.ts";

/** Telegram updates -> the toolkit's normalised inbound shapes. Ids become decimal strings (they exceed 32 bits). */

function displayName(user: { username?: string | undefined; first_name?: string | undefined }) {
  const name = user.username ?? user.first_name;
  return name !== undefined ? { displayName: name } : {};
}

/** The forum topic a message belongs to, when the chat has topics. */
function topicOf(message: TelegramMessage): string | undefined {
  return message.is_topic_message && message.message_thread_id !== undefined
    ? String(message.message_thread_id)
    : undefined;
}

/** The bot as people address it: its user id and, from getMe, its username. */
export interface TelegramBot {
  id: string;
  username?: string | undefined;
}

/** Private chats are direct; groups, supergroups (and channels, which the adapter never receives) are groups. */
export function isGroupChat(message: TelegramMessage): boolean {
  return message.chat.type !== "private";
}

/**
 * Whether a group message addresses the bot: an @mention of its username, a text mention of it (a user picked from
 * the member list, which has no username), a command for it (`/status@bot`), or a reply to one of its messages.
 */
function addressesBot(message: TelegramMessage, bot: TelegramBot): boolean {
  if (message.reply_to_message?.from !== undefined && String(message.reply_to_message.from.id) === bot.id) return true;
  const text = message.text ?? message.caption ?? "";
  const username = bot.username?.toLowerCase();
  for (const entity of message.entities ?? message.caption_entities ?? []) {
    const said = text.slice(entity.offset, entity.offset + entity.length).toLowerCase();
    if (entity.type === "text_mention" && entity.user !== undefined && String(entity.user.id) === bot.id) return true;
    if (username === undefined) continue;
    if (entity.type === "mention" && said === `@${username}`) return true;
    if (entity.type === "bot_command" && said.endsWith(`@${username}`)) return true;
  }
  return false;
}

/**
 * `bot` is needed only for group messages (whether they address it); for a private chat it may be undefined, so the
 * adapter asks Telegram who it is (getMe) only once a group message arrives.
 */
export function telegramMessage(
  botId: string,
  updateId: number,
  message: TelegramMessage,
  bot?: TelegramBot,
): InboundMessage | undefined {
  const from = message.from;
  if (from === undefined || from.is_bot) return undefined;
  const text = message.text ?? message.caption;
  if (text === undefined && message.document === undefined) return undefined;
  const chat = String(message.chat.id);
  const topic = topicOf(message);
  return {
    // update_id is unique per bot and repeats on Telegram's redeliveries.
    dedupKey: `${botId}:${updateId}`,
    messageId: `${chat}:${message.message_id}`,
    conversation: chat,
    ...(topic !== undefined ? { thread: topic } : {}),
    sender: { channel: "telegram", id: String(from.id), ...displayName(from) },
    text: text ?? "",
    attachments:
      message.document !== undefined
        ? [
            {
              platformId: message.document.file_id,
              ...(message.document.file_name !== undefined ? { name: message.document.file_name } : {}),
              ...(message.document.mime_type !== undefined ? { mimeType: message.document.mime_type } : {}),
              ...(message.document.file_size !== undefined ? { size: message.document.file_size } : {}),
            },
          ]
        : [],
    replyTo: {
      channel: "telegram",
      conversation: chat,
      ...(topic !== undefined ? { thread: topic } : {}),
      // The answer's first part replies to this message (outbound.ts).
      meta: { replyToMessage: String(message.message_id) },
    },
    ...(isGroupChat(message) ? { group: { addressed: bot !== undefined && addressesBot(message, bot) } } : {}),
  };
}

export function telegramPress(botId: string, query: CallbackQuery): ButtonPress | undefined {
  if (query.message === undefined || query.data === undefined) return undefined;
  const chat = String(query.message.chat.id);
  const topic = topicOf(query.message);
  return {
    dedupKey: `${botId}:cb:${query.id}`,
    data: query.data,
    presser: { channel: "telegram", id: String(query.from.id), ...displayName(query.from) },
    conversation: chat,
    ...(topic !== undefined ? { thread: topic } : {}),
    replyTo: { channel: "telegram", conversation: chat, ...(topic !== undefined ? { thread: topic } : {}) },
  };
}
