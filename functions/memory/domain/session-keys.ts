import type { SessionScopeRequest } from "../../../clients/memory/schemas.ts";

/**
 * The session key for a scope. Every part is percent-encoded so that no two scopes can yield the same key (a ':' in
 * a sender id cannot imitate a separator). `person` is the sender's person after identity links (scope `sender`).
 */
export function sessionKeyFor(request: SessionScopeRequest, person?: string): string {
  const enc = encodeURIComponent;
  switch (request.scope) {
    case "main":
      return "main";
    case "sender":
      return `person:${enc(person ?? `${request.channel}:${request.sender}`)}`;
    case "channel-sender":
      return `channel:${enc(request.channel)}:${enc(request.sender)}`;
    case "thread":
      return request.thread === undefined
        ? `conversation:${enc(request.channel)}:${enc(request.conversation)}`
        : `thread:${enc(request.channel)}:${enc(request.conversation)}:${enc(request.thread)}`;
    case "schedule":
      return `schedule:${enc(request.schedule)}`;
  }
}
