import type { ButtonPress, InboundMessage } from "../toolkit/inbound.ts";
import type { ChangeValue, WhatsAppMessage } from "./payloads.ts";

/** WhatsApp webhook messages -> the toolkit's normalised inbound shapes. */

export type Normalised =
  | { kind: "message"; message: InboundMessage }
  | { kind: "press"; press: ButtonPress }
  | undefined;

/**
 * One message of a change. The business number (phone_number_id) is the workspace: it routes to an instance and is
 * the number the answer is sent from. Reply-button presses whose id is one of ours are presses; anything else a
 * person sends is a message (an interactive reply to a plain button is its title, as if typed).
 */
export function normaliseMessage(value: ChangeValue, message: WhatsAppMessage): Normalised {
  const business = value.metadata.phone_number_id;
  const name = value.contacts?.find((contact) => contact.wa_id === message.from)?.profile?.name;
  const sender = {
    channel: "whatsapp" as const,
    id: message.from,
    workspace: business,
    ...(name !== undefined ? { displayName: name } : {}),
  };
  const replyTo = { channel: "whatsapp" as const, conversation: message.from, workspace: business };
  const reply = message.interactive?.button_reply ?? message.interactive?.list_reply;
  if (reply?.id.startsWith("kc1:")) {
    return {
      kind: "press",
      press: {
        dedupKey: `${business}:${message.id}`,
        data: reply.id,
        presser: sender,
        conversation: message.from,
        replyTo,
      },
    };
  }
  const text =
    message.text?.body ?? reply?.title ?? message.button?.text ?? message.image?.caption ?? message.document?.caption;
  const media = message.image ?? message.document;
  const filename = message.document?.filename;
  if (text === undefined && media === undefined) return undefined;
  return {
    kind: "message",
    message: {
      // wamid is globally unique and repeats on Meta's redeliveries.
      dedupKey: `${business}:${message.id}`,
      messageId: message.id,
      workspace: business,
      conversation: message.from,
      sender,
      text: text ?? "",
      // Every conversation is one-to-one (the sender's number): no group, so the group policy never applies.
      attachments:
        media !== undefined
          ? [
              {
                platformId: media.id,
                ...(media.mime_type !== undefined ? { mimeType: media.mime_type } : {}),
                ...(filename !== undefined ? { name: filename } : {}),
              },
            ]
          : [],
      // The answer's first part quotes this message (outbound.ts).
      replyTo: { ...replyTo, meta: { replyToMessage: message.id } },
    },
  };
}
