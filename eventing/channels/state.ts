import type { Identity } from "../catalog/shared.ts";

/**
 * The shared state a channel adapter needs, kept outside the adapter so that any replica can answer any request
 * (the adapter itself is stateless and scales to zero). In a deployment it is the memory service, reached with a
 * least-privilege `channel` token; the adapter toolkit only sees this interface.
 */
export interface KeyValueState {
  /** Store `value` under `key` for `ttlSeconds` unless the key exists; true when this call stored it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** How a platform identity is known to knclaw. */
export interface IdentityRecord {
  /** The knclaw person this platform identity is linked to, when an operator linked it. */
  person?: string;
}

export interface PendingPairing {
  code: string;
  instance: string;
  identity: Identity;
  expiresAt: string;
}

/**
 * Identity links and the pairing flow (DESIGN.md §6): an unknown sender gets a short code, an operator approves it
 * (`knclaw pairing approve <code>` or the gateway API), and from then on the sender may talk to that instance.
 */
export interface IdentityDirectory {
  lookup(instance: string, identity: Identity): Promise<IdentityRecord>;
  isPaired(instance: string, identity: Identity): Promise<boolean>;
  /**
   * Create a pending pairing, or return the one still pending for this sender and instance (same code); "approved"
   * when an operator approved the sender in the meantime; "full" when the instance has too many pending requests
   * (the sender is then not answered, so a flood of strangers cannot grow the pending list).
   */
  requestPairing(instance: string, identity: Identity): Promise<PendingPairing | "approved" | "full">;
}

export interface ChannelState {
  kv: KeyValueState;
  identities: IdentityDirectory;
}
