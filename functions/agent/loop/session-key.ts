import type { MessageReceived } from "../../../eventing/catalog/index.ts";

/**
 * The session a message belongs to, by the instance's scope (ARCHITECTURE.md, "Memory service"): one shared session
 * (`main`), one per person (identity links join their channels), one per channel identity, or one per thread. Keys are
 * printable ASCII without spaces, as the memory service requires; the platform's ids are percent-encoded into them.
 */
export type SessionScope = "main" | "sender" | "channel-sender" | "thread";

export function sessionKeyFor(scope: SessionScope, message: MessageReceived): string {
  const sender = message.sender;
  const workspace = sender.workspace ?? "";
  let key: string;
  switch (scope) {
    case "main":
      key = "main";
      break;
    case "sender":
      key =
        sender.person !== undefined
          ? `person:${enc(sender.person)}`
          : `${sender.channel}:${enc(workspace)}:${enc(sender.id)}`;
      break;
    case "channel-sender":
      key = `${message.channel}:${enc(workspace)}:${enc(sender.id)}`;
      break;
    case "thread":
      key = `${message.channel}:${enc(message.conversation)}:${enc(message.thread ?? "")}`;
      break;
  }
  return key.slice(0, 512);
}

function enc(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
