import { createHash } from "node:crypto";
import type { RenderedButton } from "../toolkit/buttons.ts";
import type { OutboundPost, PlatformOutbound } from "../toolkit/delivery.ts";
import { PlatformError } from "../toolkit/platform-error.ts";
import type { SlackApi, SlackMetadata } from "./api.ts";

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
        metadata: postMetadata(post),
      });
      return { ref: ts };
    },
    // The earlier attempt's message, found by its metadata; none there means it never landed: post it now. A lookup
    // Slack refuses for good (the app lacks a `*:history` scope) cannot tell: the toolkit posts the part marked.
    async postInDoubt(post, since) {
      const metadata = postMetadata(post);
      let ts: string | undefined;
      try {
        ts = await api.findByMetadata({
          channel: post.route.conversation,
          thread: post.route.thread,
          oldest: slackTs(since.getTime() - CLOCK_SKEW_MS),
          eventType: metadata.event_type,
          key: metadata.event_payload.key!,
        });
      } catch (error) {
        if (error instanceof PlatformError && !error.retryable) return undefined;
        throw error;
      }
      return ts !== undefined ? { ref: ts } : this.post(post);
    },
    // Past 20 messages the rest of an answer is a text file in the same thread (needs the files:write scope; without
    // it the conversation is told what was cut instead: toolkit/answer-file.ts).
    async attach(file) {
      const id = await api.uploadFile({
        channel: file.route.conversation,
        thread_ts: file.route.thread,
        filename: file.filename,
        content: file.content,
        initial_comment: file.caption,
      });
      return { ref: id };
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

/** Slack's and our clocks may differ: the history is read from a little before the intent. */
const CLOCK_SKEW_MS = 60_000;
const POST_EVENT_TYPE = "knclaw_post";

/** Every post carries its idempotency key (hashed: it may be long) as metadata, so a check in doubt can find it. */
function postMetadata(post: OutboundPost): SlackMetadata {
  return {
    event_type: POST_EVENT_TYPE,
    event_payload: { key: createHash("sha256").update(post.idempotencyKey).digest("hex").slice(0, 32) },
  };
}

/** A time as Slack's `ts` bound (seconds with microseconds). */
function slackTs(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(6);
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
