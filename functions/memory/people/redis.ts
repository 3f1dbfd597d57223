import type { PairingRecord } from "../../../clients/memory/contract/people.ts";
import { guard, Script } from "../redis/connection.ts";
import type { RedisContext } from "../redis/context.ts";
import { DECIDE_PAIRING, LINK, LIST_PAIRING, PERSON, REQUEST_PAIRING, UNLINK } from "./lua.ts";
import type {
  DecisionOutcome,
  PairingDecision,
  PairingInput,
  PairingOutcome,
  PeopleStore,
  PersonRecord,
} from "./store.ts";

const link = new Script(LINK);
const person = new Script(PERSON, { readOnly: true });
const unlink = new Script(UNLINK);
const request = new Script(REQUEST_PAIRING);
const list = new Script(LIST_PAIRING);
const decide = new Script(DECIDE_PAIRING);

function identityKeys(ctx: RedisContext, instance: string): string[] {
  return [ctx.keys.identityPersons(instance), ctx.keys.personIdentities(instance)];
}

function pairingKeys(ctx: RedisContext, instance: string): string[] {
  return [ctx.keys.pairing(instance), ctx.keys.pairingBySender(instance), ctx.keys.approved(instance)];
}

/** Identity links, pairing and approvals on Redis (scripts in lua.ts). */
export class RedisPeopleStore implements PeopleStore {
  readonly #ctx: RedisContext;

  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  async linkIdentities(instance: string, identities: string[]): Promise<PersonRecord> {
    const [target, members] = await link.run<[string, string]>(
      this.#ctx.client,
      identityKeys(this.#ctx, instance),
      identities,
    );
    return { person: target, identities: JSON.parse(members) as string[] };
  }

  async getPerson(instance: string, identity: string): Promise<PersonRecord> {
    const reply = await person.run<[] | [string, string]>(this.#ctx.client, identityKeys(this.#ctx, instance), [
      identity,
    ]);
    if (reply.length === 0) return { person: identity, identities: [identity] };
    return { person: reply[0], identities: JSON.parse(reply[1]) as string[] };
  }

  async unlinkIdentity(instance: string, identity: string): Promise<PersonRecord> {
    await unlink.run<number>(this.#ctx.client, identityKeys(this.#ctx, instance), [identity]);
    return { person: identity, identities: [identity] };
  }

  async requestPairing(instance: string, input: PairingInput): Promise<PairingOutcome> {
    const reply = await request.run<[string, string?, number?]>(this.#ctx.client, pairingKeys(this.#ctx, instance), [
      input.now,
      input.identity,
      input.record.code,
      JSON.stringify(input.record),
      input.maxPending,
    ]);
    switch (reply[0]) {
      case "approved":
        return { kind: "approved" };
      case "full":
        return { kind: "full" };
      case "collision":
        return { kind: "collision" };
      default:
        return { kind: "pending", record: JSON.parse(reply[1]!) as PairingRecord, created: reply[2] === 1 };
    }
  }

  async listPairing(instance: string, now: number): Promise<PairingRecord[]> {
    const records = await list.run<string[]>(this.#ctx.client, pairingKeys(this.#ctx, instance).slice(0, 2), [now]);
    return records
      .map((raw) => JSON.parse(raw) as PairingRecord)
      .filter((record) => record.status === "pending")
      .sort((a, b) => a.createdAt - b.createdAt || (a.code < b.code ? -1 : 1));
  }

  async decidePairing(instance: string, code: string, input: PairingDecision): Promise<DecisionOutcome> {
    const reply = await decide.run<[string, string?]>(this.#ctx.client, pairingKeys(this.#ctx, instance), [
      input.now,
      code,
      input.decision,
      input.decidedBy,
    ]);
    if (reply[0] === "missing") return { kind: "missing" };
    const record = JSON.parse(reply[1]!) as PairingRecord;
    return reply[0] === "ok" ? { kind: "ok", record } : { kind: "conflict", record };
  }

  async setApproved(instance: string, identity: string, approved: boolean) {
    const key = this.#ctx.keys.approved(instance);
    await guard(() => (approved ? this.#ctx.client.sadd(key, identity) : this.#ctx.client.srem(key, identity)));
  }

  async isApproved(instance: string, identity: string): Promise<boolean> {
    return (await guard(() => this.#ctx.client.sismember(this.#ctx.keys.approved(instance), identity))) === 1;
  }
}
