import { z } from "zod";

/**
 * The parts of a Telegram Update the adapter reads. Ids are JSON numbers of up to 52 significant bits: they stay
 * exact as JS numbers and become decimal strings at once, never int32.
 */
const telegramId = z.number().int().refine(Number.isSafeInteger, "id beyond 53 bits");

const TelegramUser = z.object({
  id: telegramId,
  is_bot: z.boolean().default(false),
  first_name: z.string().max(256).optional(),
  username: z.string().max(256).optional(),
});

const TelegramChat = z.object({ id: telegramId, type: z.string().max(32) });

/** A MessageEntity: offsets and lengths in UTF-16 code units, as JS strings count. */
const Entity = z.object({
  type: z.string().max(64),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  user: TelegramUser.optional(),
});
const entities = z.array(Entity).max(1024).optional();

export const TelegramMessage = z.object({
  message_id: telegramId,
  message_thread_id: telegramId.optional(),
  is_topic_message: z.boolean().optional(),
  from: TelegramUser.optional(),
  chat: TelegramChat,
  date: z.number().int(),
  text: z
    .string()
    .max(64 * 1024)
    .optional(),
  caption: z
    .string()
    .max(64 * 1024)
    .optional(),
  entities,
  caption_entities: entities,
  /** The message this one replies to; only who wrote it is read (a reply to the bot addresses it). */
  reply_to_message: z.object({ message_id: telegramId, from: TelegramUser.optional() }).optional(),
  document: z
    .object({
      file_id: z.string().max(256),
      file_name: z.string().max(256).optional(),
      mime_type: z.string().max(128).optional(),
      file_size: z.number().int().nonnegative().optional(),
    })
    .optional(),
});
export type TelegramMessage = z.infer<typeof TelegramMessage>;

export const CallbackQuery = z.object({
  id: z.string().min(1).max(256),
  from: TelegramUser,
  message: TelegramMessage.optional(),
  data: z.string().max(64).optional(),
});
export type CallbackQuery = z.infer<typeof CallbackQuery>;

export const Update = z.object({
  update_id: telegramId,
  message: TelegramMessage.optional(),
  /** Read only to be ignored on purpose (functions/channels/README.md, "Edited messages"). */
  edited_message: z.unknown().optional(),
  callback_query: CallbackQuery.optional(),
});
export type Update = z.infer<typeof Update>;
