import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import type { TelegramApi } from "./api.ts";

/** message.send / approval.requested -> sendMessage, in the forum topic when there is one; buttons -> inline keyboard. */
const TELEGRAM_TEXT_LIMIT = 4096;

export function telegramOutbound(api: TelegramApi): PlatformOutbound {
  return {
    channel: "telegram",
    split: { limit: TELEGRAM_TEXT_LIMIT, maxParts: 20 },
    async post(post: OutboundPost) {
      const thread = post.route.thread !== undefined ? Number(post.route.thread) : undefined;
      const id = await api.sendMessage({
        chat_id: post.route.conversation,
        text: post.text,
        ...(thread !== undefined && Number.isSafeInteger(thread) ? { message_thread_id: thread } : {}),
        ...(post.buttons !== undefined
          ? {
              // One button per row: labels stay readable on phones.
              reply_markup: { inline_keyboard: post.buttons.map((b) => [{ text: b.label, callback_data: b.data }]) },
            }
          : {}),
      });
      return { ref: String(id) };
    },
  };
}
