import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import { PlatformError } from "../toolkit/platform-error.ts";
import type { ReplyParameters, TelegramApi } from "./api.ts";

/**
 * message.send / approval.requested -> sendMessage, in the forum topic when there is one; buttons -> inline keyboard.
 * An approval's verdict is editMessageText with the keyboard removed. Telegram has no ephemeral messages: the one
 * private route to a presser is the answer to their button press (answerCallbackQuery with show_alert, app.ts: the
 * adapter's own approver check uses it), and it must be given within seconds, so it cannot wait for the agent. What
 * only one person should see later (the agent's refusal of their decision) goes to their private chat with the bot;
 * when they never started one (Telegram answers 403), it is not posted anywhere: saying it in the conversation would
 * tell everyone who tried to decide, and what was refused. The agent's audit stream keeps the refusal.
 */
const TELEGRAM_TEXT_LIMIT = 4096;
/** Captions hold 1024 characters. */
const TELEGRAM_CAPTION_LIMIT = 1024;

/**
 * The first part of an answer replies to the message that asked (inbound.ts puts its id in the route), so in a busy
 * group it is clear which question it answers; it is sent even if that message was deleted meanwhile.
 */
function replyTo(post: OutboundPost): { reply_parameters?: ReplyParameters } {
  const id = Number(post.route.meta?.replyToMessage);
  if (post.part !== 0 || !Number.isSafeInteger(id)) return {};
  return { reply_parameters: { message_id: id, allow_sending_without_reply: true } };
}

export function telegramOutbound(api: TelegramApi): PlatformOutbound {
  const topic = (thread: string | undefined) => {
    const id = thread !== undefined ? Number(thread) : undefined;
    return id !== undefined && Number.isSafeInteger(id) ? { message_thread_id: id } : {};
  };
  return {
    channel: "telegram",
    // Past 20 messages the rest of an answer goes as a document (toolkit/long-answer.ts).
    split: { limit: TELEGRAM_TEXT_LIMIT, maxParts: 20 },
    async post(post: OutboundPost) {
      const id = await api.sendMessage({
        chat_id: post.route.conversation,
        text: post.text,
        ...topic(post.route.thread),
        ...replyTo(post),
        ...(post.buttons !== undefined
          ? {
              // One button per row: labels stay readable on phones.
              reply_markup: { inline_keyboard: post.buttons.map((b) => [{ text: b.label, callback_data: b.data }]) },
            }
          : {}),
      });
      return { ref: String(id) };
    },
    async attach(file) {
      const id = await api.sendDocument({
        chat_id: file.route.conversation,
        filename: file.filename,
        content: file.content,
        caption: file.caption.slice(0, TELEGRAM_CAPTION_LIMIT),
        ...topic(file.route.thread),
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
    async tell(_route, person, text) {
      try {
        await api.sendMessage({ chat_id: person.id, text });
      } catch (error) {
        // 403 "bot can't initiate conversation with a user": Telegram lets a bot write only to those who started it.
        // Nothing else is private to them, so they are not told (retrying would not change Telegram's answer).
        if (!(error instanceof PlatformError) || error.kind !== "rejected") throw error;
      }
    },
  };
}
