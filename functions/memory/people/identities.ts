import type { ChannelIdentity } from "../../../clients/memory/contract/people.ts";

/**
 * One platform identity as a single string, `<channel>:<sender>`. Channel names contain no ':', so the first ':'
 * separates the parts; an unlinked identity is its own person under this string.
 */
export function identityString(identity: ChannelIdentity): string {
  return `${identity.channel}:${identity.sender}`;
}

export function parseIdentity(value: string): ChannelIdentity {
  const at = value.indexOf(":");
  return { channel: value.slice(0, at), sender: value.slice(at + 1) };
}
