import type { PairingRecord } from "../../../clients/memory/contract/people.ts";
import { stateOf } from "../embedded/maps.ts";
import type {
  DecisionOutcome,
  PairingDecision,
  PairingInput,
  PairingOutcome,
  PeopleStore,
  PersonRecord,
} from "./store.ts";

interface PeopleState {
  /** identity -> person, person -> its identities. */
  idmap: Map<string, string>;
  persons: Map<string, string[]>;
  /** Pairing records by code, and the pending code of each identity. */
  pairing: Map<string, PairingRecord>;
  pairingBySender: Map<string, string>;
  approved: Set<string>;
}

function newPeopleState(): PeopleState {
  return { idmap: new Map(), persons: new Map(), pairing: new Map(), pairingBySender: new Map(), approved: new Set() };
}

function purgePairing(state: PeopleState, now: number): void {
  for (const [code, record] of state.pairing) {
    if (record.expiresAt > now) continue;
    state.pairing.delete(code);
    const identity = `${record.channel}:${record.sender}`;
    if (state.pairingBySender.get(identity) === code) state.pairingBySender.delete(identity);
  }
}

/**
 * Identity links, pairing and approvals in process, per instance. A person's id is always the identity string of one
 * of its members (the first one linked), so an unlinked identity can be its own person without any stored record.
 */
export class EmbeddedPeopleStore implements PeopleStore {
  readonly #instances = new Map<string, PeopleState>();

  #of(instance: string): PeopleState {
    return stateOf(this.#instances, instance, newPeopleState);
  }

  /** Frees expired pairing requests (they are invisible already). */
  sweep(now: number): void {
    for (const state of this.#instances.values()) purgePairing(state, now);
  }

  async setApproved(instance: string, identity: string, approved: boolean): Promise<void> {
    const state = this.#of(instance);
    if (approved) state.approved.add(identity);
    else state.approved.delete(identity);
  }

  async isApproved(instance: string, identity: string): Promise<boolean> {
    return this.#of(instance).approved.has(identity);
  }

  async linkIdentities(instance: string, identities: string[]): Promise<PersonRecord> {
    const state = this.#of(instance);
    const first = identities.find((identity) => state.idmap.has(identity));
    const target = first === undefined ? identities[0]! : state.idmap.get(first)!;
    const members = state.persons.get(target) ?? [];
    for (const identity of identities) {
      const person = state.idmap.get(identity);
      if (person === target) continue;
      if (person !== undefined) {
        for (const member of state.persons.get(person) ?? []) {
          state.idmap.set(member, target);
          if (!members.includes(member)) members.push(member);
        }
        state.persons.delete(person);
      } else {
        state.idmap.set(identity, target);
        members.push(identity);
      }
    }
    state.persons.set(target, members);
    return { person: target, identities: [...members] };
  }

  async getPerson(instance: string, identity: string): Promise<PersonRecord> {
    const state = this.#of(instance);
    const person = state.idmap.get(identity);
    if (person === undefined) return { person: identity, identities: [identity] };
    return { person, identities: [...(state.persons.get(person) ?? [])] };
  }

  /**
   * Detach one identity. When the person's id is that identity's own string, the identity keeps it (and the history
   * under it) and the rest of the group takes the id of its first remaining member.
   */
  async unlinkIdentity(instance: string, identity: string): Promise<PersonRecord> {
    const state = this.#of(instance);
    const person = state.idmap.get(identity);
    if (person === undefined) return { person: identity, identities: [identity] };
    const rest = (state.persons.get(person) ?? []).filter((member) => member !== identity);
    state.idmap.delete(identity);
    state.persons.delete(person);
    if (rest.length === 1) {
      state.idmap.delete(rest[0]!);
    } else if (rest.length > 1) {
      const next = person === identity ? rest[0]! : person;
      for (const member of rest) state.idmap.set(member, next);
      state.persons.set(next, rest);
    }
    return { person: identity, identities: [identity] };
  }

  async requestPairing(instance: string, input: PairingInput): Promise<PairingOutcome> {
    const state = this.#of(instance);
    purgePairing(state, input.now);
    if (state.approved.has(input.identity)) return { kind: "approved" };
    const existing = state.pairingBySender.get(input.identity);
    const record = existing === undefined ? undefined : state.pairing.get(existing);
    if (record) return { kind: "pending", record, created: false };
    let pending = 0;
    for (const candidate of state.pairing.values()) if (candidate.status === "pending") pending += 1;
    if (pending >= input.maxPending) return { kind: "full" };
    if (state.pairing.has(input.record.code)) return { kind: "collision" };
    state.pairing.set(input.record.code, input.record);
    state.pairingBySender.set(input.identity, input.record.code);
    return { kind: "pending", record: input.record, created: true };
  }

  async listPairing(instance: string, now: number): Promise<PairingRecord[]> {
    const state = this.#of(instance);
    purgePairing(state, now);
    return [...state.pairing.values()]
      .filter((record) => record.status === "pending")
      .sort((a, b) => a.createdAt - b.createdAt || (a.code < b.code ? -1 : 1));
  }

  async decidePairing(instance: string, code: string, input: PairingDecision): Promise<DecisionOutcome> {
    const state = this.#of(instance);
    purgePairing(state, input.now);
    const record = state.pairing.get(code);
    if (!record) return { kind: "missing" };
    if (record.status !== "pending") {
      return record.status === input.decision ? { kind: "ok", record } : { kind: "conflict", record };
    }
    const decided: PairingRecord = {
      ...record,
      status: input.decision,
      decidedBy: input.decidedBy,
      decidedAt: input.now,
    };
    state.pairing.set(code, decided);
    const identity = `${record.channel}:${record.sender}`;
    state.pairingBySender.delete(identity);
    if (input.decision === "approved") state.approved.add(identity);
    return { kind: "ok", record: decided };
  }
}
