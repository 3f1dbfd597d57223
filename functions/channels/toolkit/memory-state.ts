import { MemoryClient, MemoryError } from "../../../clients/memory/client.ts";
import type { ChannelIdentity } from "../../../clients/memory/contract/people.ts";
import { MemoryKeyValue } from "../../../clients/memory/key-value.ts";
import type { Identity } from "../../../eventing/catalog/shared.ts";
/**
 * ChannelState on the memory service (ARCHITECTURE.md, "Memory service"), reached with the adapter's least-privilege
 * `channel` token: key/values and dedup in the adapter's own namespace, identity links and pairing per instance.
 *
 * Env: KNCLAW_MEMORY_URL, KNCLAW_MEMORY_TOKEN (the renderer and `knclaw dev` set both).
 */
import { memoryClientSettings } from "../../../runtime/platform-env.ts";
import type { ChannelState, IdentityDirectory, IdentityRecord, PendingPairing } from "./state.ts";

/** How the memory service names a platform identity: the workspace joins the user id where the platform scopes ids. */
function memoryIdentity(identity: Identity): ChannelIdentity {
  return {
    channel: identity.channel,
    sender: identity.workspace !== undefined ? `${identity.workspace}:${identity.id}` : identity.id,
  };
}

class MemoryIdentityDirectory implements IdentityDirectory {
  private readonly client: MemoryClient;
  constructor(client: MemoryClient) {
    this.client = client;
  }
  async lookup(instance: string, identity: Identity): Promise<IdentityRecord> {
    const person = await this.client.getPerson(instance, memoryIdentity(identity));
    // An identity nobody linked is its own person; only a link to others makes it a knclaw person worth naming.
    return person.identities.length > 1 ? { person: person.person } : {};
  }
  isPaired(instance: string, identity: Identity): Promise<boolean> {
    return this.client.isApproved(instance, memoryIdentity(identity));
  }
  async requestPairing(instance: string, identity: Identity): Promise<PendingPairing | "approved" | "full"> {
    let answer: Awaited<ReturnType<MemoryClient["requestPairing"]>>;
    try {
      answer = await this.client.requestPairing(instance, {
        ...memoryIdentity(identity),
        ...(identity.displayName !== undefined ? { displayName: identity.displayName.slice(0, 200) } : {}),
      });
    } catch (error) {
      if (error instanceof MemoryError && error.code === "too_many_pending") return "full";
      throw error;
    }
    if (answer.status === "approved") return "approved";
    return { code: answer.code, instance, identity, expiresAt: new Date(answer.expiresAt).toISOString() };
  }
}

export function memoryChannelState(client: MemoryClient, namespace: string): ChannelState {
  return { kv: new MemoryKeyValue(client, namespace), identities: new MemoryIdentityDirectory(client) };
}

/** The state of the adapter of `channel` from its environment; throws when the memory service is not configured. */
export function channelStateFromEnv(env: Readonly<Record<string, string | undefined>>, channel: string): ChannelState {
  return memoryChannelState(new MemoryClient(memoryClientSettings(env)), `channel-${channel}`);
}
