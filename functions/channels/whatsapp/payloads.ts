import { z } from "zod";

/** The parts of a WhatsApp Cloud API webhook the adapter reads (`whatsapp_business_account` / `messages`). */
const id = z.string().min(1).max(512);

export const WhatsAppMessage = z.object({
  from: z.string().min(1).max(32),
  id,
  timestamp: z.string().regex(/^\d{1,12}$/),
  type: z.string().max(32),
  text: z.object({ body: z.string().max(64 * 1024) }).optional(),
  interactive: z
    .object({
      type: z.string().max(32),
      button_reply: z.object({ id: z.string().max(256), title: z.string().max(64) }).optional(),
      list_reply: z.object({ id: z.string().max(256), title: z.string().max(64) }).optional(),
    })
    .optional(),
  button: z.object({ payload: z.string().max(1024).optional(), text: z.string().max(1024) }).optional(),
  image: z
    .object({
      id: z.string().max(256),
      mime_type: z.string().max(128).optional(),
      caption: z.string().max(4096).optional(),
    })
    .optional(),
  document: z
    .object({
      id: z.string().max(256),
      mime_type: z.string().max(128).optional(),
      filename: z.string().max(256).optional(),
      caption: z.string().max(4096).optional(),
    })
    .optional(),
  context: z.object({ id: z.string().max(512).optional() }).optional(),
});
export type WhatsAppMessage = z.infer<typeof WhatsAppMessage>;

export const ChangeValue = z.object({
  messaging_product: z.literal("whatsapp"),
  metadata: z.object({ display_phone_number: z.string().max(32).optional(), phone_number_id: id }),
  contacts: z
    .array(z.object({ wa_id: z.string().max(32), profile: z.object({ name: z.string().max(256) }).optional() }))
    .max(100)
    .optional(),
  messages: z.array(WhatsAppMessage).max(100).optional(),
  statuses: z.array(z.unknown()).max(1000).optional(),
});
export type ChangeValue = z.infer<typeof ChangeValue>;

export const WebhookBody = z.object({
  object: z.string().max(64),
  entry: z
    .array(
      z.object({
        id: z.string().max(64),
        changes: z.array(z.object({ field: z.string().max(64), value: z.unknown() })).max(100),
      }),
    )
    .max(100),
});
