import type { ReplyRoute } from "../../../eventing/catalog/shared.ts";
import type { RenderedButton } from "../toolkit/buttons.ts";
import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import { PlatformError } from "../toolkit/platform-error.ts";
import type { WhatsAppApi } from "./api.ts";

/**
 * message.send / approval.requested -> a WhatsApp message to the person's number, from the business number the
 * conversation arrived on (the route's workspace). Up to three buttons are reply buttons; more become a list.
 * WhatsApp cannot edit a sent message: an approval's verdict arrives as a message of its own, and every conversation is
 * with one person, so what only they should see is a plain message to them.
 */
const WHATSAPP_TEXT_LIMIT = 4096;
/** Body of an interactive message. */
const WHATSAPP_INTERACTIVE_LIMIT = 1024;
/** A document's caption. */
const WHATSAPP_CAPTION_LIMIT = 1024;

/**
 * The first part of an answer quotes the message that asked (`context.message_id`, inbound.ts puts its wamid in the
 * route): when someone sends several questions, each answer shows which one it is for.
 */
function quoting(post: OutboundPost): { context?: { message_id: string } } {
  const asked = post.route.meta?.replyToMessage;
  return post.part === 0 && asked !== undefined ? { context: { message_id: asked } } : {};
}

export function whatsappOutbound(api: WhatsAppApi, defaultPhoneNumberId: string | undefined): PlatformOutbound {
  const businessNumber = (route: ReplyRoute): string => {
    const from = route.workspace ?? defaultPhoneNumberId;
    if (from === undefined) throw new PlatformError("whatsapp", "rejected", "no business phone number for this route");
    return from;
  };
  return {
    channel: "whatsapp",
    split: { limit: WHATSAPP_TEXT_LIMIT, maxParts: 10 },
    buttonTextLimit: WHATSAPP_INTERACTIVE_LIMIT,
    async post(post: OutboundPost) {
      const from = businessNumber(post.route);
      const message =
        post.buttons !== undefined && post.buttons.length > 0
          ? { to: post.route.conversation, type: "interactive", interactive: interactive(post.text, post.buttons) }
          : { to: post.route.conversation, type: "text", text: { body: post.text, preview_url: false } };
      return { ref: await api.sendMessage(from, { ...message, ...quoting(post) }) };
    },
    // Past 10 messages the rest of an answer is a text document (uploaded media, then a document message).
    async attach(file) {
      const from = businessNumber(file.route);
      const type = "text/plain";
      const media = await api.uploadMedia(from, { filename: file.filename, content: file.content, type });
      const document = { id: media, filename: file.filename, caption: file.caption.slice(0, WHATSAPP_CAPTION_LIMIT) };
      return { ref: await api.sendMessage(from, { to: file.route.conversation, type: "document", document }) };
    },
    async tell(route, person, text) {
      await api.sendMessage(businessNumber(route), {
        to: person.id,
        type: "text",
        text: { body: text, preview_url: false },
      });
    },
  };
}

function interactive(text: string, buttons: RenderedButton[]): Record<string, unknown> {
  if (buttons.length <= 3) {
    return {
      type: "button",
      body: { text },
      action: { buttons: buttons.map((b) => ({ type: "reply", reply: { id: b.data, title: b.label.slice(0, 20) } })) },
    };
  }
  return {
    type: "list",
    body: { text },
    action: {
      button: "Choose",
      sections: [
        { title: "Options", rows: buttons.slice(0, 10).map((b) => ({ id: b.data, title: b.label.slice(0, 24) })) },
      ],
    },
  };
}
