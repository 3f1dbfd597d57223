import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import { PlatformError } from "../toolkit/platform-error.ts";
import type { TelegramApi } from "./api.ts";

/**
 * message.send / approval.requested -> sendMessage, in the forum topic when there is one; buttons -> inline keyboard.
 * An approval's verdict is editMessageText with the keyboard removed. Telegram has no ephemeral messages: what only one
 * person should see goes to their private chat with the bot, or, when they never started one, to the conversation,
 * naming them.
 */
const TELEGRAM_TEXT_LIMIT = 4096;

export function telegramOutbound(api: TelegramApi): PlatformOutbound {
  const topic = (thread: string | undefined) => {
    const id = thread !== undefined ? Number(thread) : undefined;
    return id !== undefined && Number.isSafeInteger(id) ? { message_thread_id: id } : {};
  };
  return {
    channel: "telegram",
    split: { limit: TELEGRAM_TEXT_LIMIT, maxParts: 20 },
    async post(post: OutboundPost) {
      const id = await api.sendMessage({
        chat_id: post.route.conversation,
        text: post.text,
        ...topic(post.route.thread),
        ...(post.buttons !== undefined
          ? {
              // One button per row: labels stay readable on phones.
              reply_markup: { inline_keyboard: post.buttons.map((b) => [{ text: b.label, callback_data: b.data }]) },
            }
          : {}),
      });
      return { ref: String(id) };
    },
    async update(route, ref, text) {
      await api.editMessageText({
        chat_id: route.conversation,
        message_id: Number(ref),
        text,
        reply_markup: { inline_keyboard: [] },
      });
    },
    async tell(route, person, text) {
      try {
        await api.sendMessage({ chat_id: person.id, text });
      } catch (error) {
        // 403 "bot can't initiate conversation with a user": Telegram lets a bot write only to those who started it.
        if (!(error instanceof PlatformError) || error.kind !== "rejected" || route.conversation === person.id)
          throw error;
        const name = person.displayName ?? person.id;
        await api.sendMessage({ chat_id: route.conversation, text: `${name}: ${text}`, ...topic(route.thread) });
      }
    },
  };
}
