import type { RenderedButton } from "../toolkit/buttons.ts";
import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import type { SlackApi } from "./api.ts";

/**
 * message.send / approval.requested -> chat.postMessage, in the thread the message came from. Buttons become a Block
 * Kit actions block; the text is repeated in a section so it shows above them (`text` alone is then only the
 * notification fallback). An approval's verdict is chat.update with the blocks removed; what only one person should
 * see is chat.postEphemeral.
 */
const SLACK_SECTION_LIMIT = 3000;

export function slackOutbound(api: SlackApi): PlatformOutbound {
  return {
    channel: "slack",
    // A section block holds 3000 characters; plain messages could hold more, but one limit keeps parts uniform.
    split: { limit: SLACK_SECTION_LIMIT, maxParts: 20 },
    async post(post: OutboundPost) {
      const ts = await api.postMessage({
        channel: post.route.conversation,
        text: post.text,
        ...(post.route.thread !== undefined ? { thread_ts: post.route.thread } : {}),
        ...(post.buttons !== undefined ? { blocks: slackBlocks(post.text, post.buttons) } : {}),
      });
      return { ref: ts };
    },
    async update(route, ts, text) {
      await api.update({ channel: route.conversation, ts, text, blocks: [] });
    },
    async tell(route, person, text) {
      await api.postEphemeral({
        channel: route.conversation,
        user: person.id,
        text,
        ...(route.thread !== undefined ? { thread_ts: route.thread } : {}),
      });
    },
    mention: (person) => `<@${person.id}>`,
  };
}

function slackBlocks(text: string, buttons: RenderedButton[]): unknown[] {
  return [
    { type: "section", text: { type: "mrkdwn", text } },
    {
      type: "actions",
      elements: buttons.slice(0, 25).map((button) => ({
        type: "button",
        text: { type: "plain_text", text: button.label.slice(0, 75) },
        action_id: button.data,
        value: button.data,
        ...(button.style === "primary" || button.style === "danger" ? { style: button.style } : {}),
      })),
    },
  ];
}
