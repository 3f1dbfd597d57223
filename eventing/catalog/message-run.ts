import { createHash } from "node:crypto";
import type { MessageReceived } from "./events.ts";

/**
 * The id of the run a chat message starts, derived from the message itself: the agent names the run with it, and the
 * gateway's re-drive of chat messages (functions/gateway/chat-redrive.ts) asks for that run by it.
 */
export function messageRunId(
  data: Pick<MessageReceived, "instance" | "channel" | "sender" | "conversation" | "messageId">,
): string {
  const h = createHash("sha256");
  for (const part of [data.instance, data.channel, data.sender.workspace ?? "", data.conversation, data.messageId])
    h.update(part).update("\u0000");
  return `m-${h.digest("hex").slice(0, 40)}`;
}
