import type { PairingRecord } from "../../../clients/memory/contract/people.ts";

/**
 * Identity links (one person across channels), pairing requests and the approved senders of an instance. A person's
 * id is always the identity string of one of its members, so an unlinked identity is its own person without a
 * record (embedded.ts spells out the rules, lua.ts does the same on Redis).
 */
export interface PeopleStore {
  linkIdentities(instance: string, identities: string[]): Promise<PersonRecord>;
  getPerson(instance: string, identity: string): Promise<PersonRecord>;
  unlinkIdentity(instance: string, identity: string): Promise<PersonRecord>;
  requestPairing(instance: string, input: PairingInput): Promise<PairingOutcome>;
  /** Pending requests, oldest first. */
  listPairing(instance: string, now: number): Promise<PairingRecord[]>;
  decidePairing(instance: string, code: string, input: PairingDecision): Promise<DecisionOutcome>;
  setApproved(instance: string, identity: string, approved: boolean): Promise<void>;
  isApproved(instance: string, identity: string): Promise<boolean>;
}

/** A person and its identities as `<channel>:<sender>` strings. */
export interface PersonRecord {
  person: string;
  identities: string[];
}

export interface PairingInput {
  identity: string;
  /** A fresh code; the store answers `collision` if it is taken and the caller draws another. */
  record: PairingRecord;
  now: number;
  maxPending: number;
}

export type PairingOutcome =
  | { kind: "approved" }
  | { kind: "pending"; record: PairingRecord; created: boolean }
  | { kind: "full" }
  | { kind: "collision" };

export interface PairingDecision {
  decision: "approved" | "denied";
  decidedBy: string;
  now: number;
}

export type DecisionOutcome =
  | { kind: "ok"; record: PairingRecord }
  | { kind: "missing" }
  | { kind: "conflict"; record: PairingRecord };
