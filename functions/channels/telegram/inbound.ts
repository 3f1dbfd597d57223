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

export function telegramMessage(botId: string, updateId: number, message: TelegramMessage): InboundMessage | undefined {
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
    replyTo: { channel: "telegram", conversation: chat, ...(topic !== undefined ? { thread: topic } : {}) },
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
