import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import type { Identity } from "../../../eventing/catalog/shared.ts";

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
 * Identity links and the pairing flow (ARCHITECTURE.md, "Channels"): an unknown sender gets a short code, an operator
 * approves it (`knclaw pairing approve <code>` or the gateway API), and from then on the sender may talk to that
 * instance.
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
