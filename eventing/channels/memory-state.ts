import { createHash } from "node:crypto";
import type { Identity } from "../catalog/shared.ts";
import { MemoryClient, MemoryError } from "../memory/client.ts";
import type { ChannelIdentity } from "../memory/schemas.ts";
import type { ChannelState, IdentityDirectory, IdentityRecord, KeyValueState, PendingPairing } from "./state.ts";

/**
 * ChannelState on the memory service (DESIGN.md §5), reached with the adapter's least-privilege `channel` token:
 * key/values and dedup in the adapter's own namespace, identity links and pairing per instance.
 *
 * Env: KNCLAW_MEMORY_URL, KNCLAW_MEMORY_TOKEN (the renderer and `knclaw dev` set both).
 */
export const MEMORY_URL_ENV = "KNCLAW_MEMORY_URL";
export const MEMORY_TOKEN_ENV = "KNCLAW_MEMORY_TOKEN";

/** Memory-service keys are printable ASCII without spaces; anything else (or anything long) is hashed. */
function safeKey(key: string): string {
  return /^[\x21-\x7e]{1,400}$/.test(key) ? key : `h:${createHash("sha256").update(key).digest("hex")}`;
}

export class MemoryKeyValue implements KeyValueState {
  private readonly client: MemoryClient;
  private readonly space: { namespace: string };
  constructor(client: MemoryClient, namespace: string) {
    this.client = client;
    this.space = { namespace };
  }
  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    const answer = await this.client.dedup(this.space, { key: safeKey(key), ttlMs: ttlSeconds * 1000, value });
    return answer.firstSeen;
  }
  async get(key: string): Promise<string | undefined> {
    const answer = await this.client.getValue(this.space, safeKey(key));
    return answer === undefined ? undefined : (answer.value ?? "");
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.putValue(this.space, safeKey(key), value, ttlSeconds * 1000);
  }
  async delete(key: string): Promise<void> {
    await this.client.deleteValue(this.space, safeKey(key));
  }
}

/** How the memory service names a platform identity: the workspace joins the user id where the platform scopes ids. */
export function memoryIdentity(identity: Identity): ChannelIdentity {
  return {
    channel: identity.channel,
    sender: identity.workspace !== undefined ? `${identity.workspace}:${identity.id}` : identity.id,
  };
}

export class MemoryIdentityDirectory implements IdentityDirectory {
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
  const baseUrl = env[MEMORY_URL_ENV];
  const token = env[MEMORY_TOKEN_ENV];
  if (!baseUrl || !token) throw new Error(`${MEMORY_URL_ENV} and ${MEMORY_TOKEN_ENV} must be set (the memory service)`);
  return memoryChannelState(new MemoryClient({ baseUrl, token }), `channel-${channel}`);
}
