import { randomInt } from "node:crypto";
import type { KeyValueState } from "../../../../clients/memory/key-value.ts";
import type { Identity } from "../../../../eventing/catalog/shared.ts";
import type {
  ChannelState,
  IdentityDirectory,
  IdentityRecord,
  PendingPairing,
} from "../../../../functions/channels/toolkit/state.ts";

/**
 * An in-process ChannelState for adapter tests that do not need the memory service: same semantics (TTL, set-if-
 * absent), with a clock the test controls.
 */
export class MapKeyValue implements KeyValueState {
  readonly entries = new Map<string, { value: string; expiresAt: number }>();
  now: () => number = Date.now;
  private readonly waiters: Array<{ test: (key: string, value: string) => boolean; resolve: () => void }> = [];

  /** Resolves once a value satisfying `test` is set (e.g. a delivery marked done). */
  waitForSet(test: (key: string, value: string) => boolean): Promise<void> {
    for (const [key, entry] of this.entries) if (test(key, entry.value)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private notify(key: string, value: string) {
    for (const waiter of [...this.waiters]) {
      if (waiter.test(key, value)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  private live(key: string) {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    if (this.live(key) !== undefined) return false;
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    this.notify(key, value);
    return true;
  }
  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }
  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    this.notify(key, value);
  }
  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

const identityKey = (identity: Identity) => `${identity.channel}/${identity.workspace ?? ""}/${identity.id}`;

export class MapIdentityDirectory implements IdentityDirectory {
  readonly persons = new Map<string, string>();
  readonly paired = new Set<string>();
  readonly pending = new Map<string, PendingPairing>();

  link(identity: Identity, person: string) {
    this.persons.set(identityKey(identity), person);
  }
  async lookup(_instance: string, identity: Identity): Promise<IdentityRecord> {
    const person = this.persons.get(identityKey(identity));
    return person === undefined ? {} : { person };
  }
  async isPaired(instance: string, identity: Identity): Promise<boolean> {
    return this.paired.has(`${instance}|${identityKey(identity)}`);
  }
  async requestPairing(instance: string, identity: Identity): Promise<PendingPairing | "approved" | "full"> {
    for (const pending of this.pending.values()) {
      if (pending.instance === instance && identityKey(pending.identity) === identityKey(identity)) return pending;
    }
    const code = String(randomInt(10_000_000, 99_999_999));
    const pending = { code, instance, identity, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    this.pending.set(code, pending);
    return pending;
  }
  approve(code: string): boolean {
    const pending = this.pending.get(code);
    if (pending === undefined) return false;
    this.pending.delete(code);
    this.paired.add(`${pending.instance}|${identityKey(pending.identity)}`);
    return true;
  }
}

export function memoryChannelState(): ChannelState & { kv: MapKeyValue; identities: MapIdentityDirectory } {
  return { kv: new MapKeyValue(), identities: new MapIdentityDirectory() };
}
