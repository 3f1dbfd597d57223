import type { PairingRecord } from "../../../../clients/memory/schemas.ts";
import type { DecisionOutcome, PairingDecision, PairingInput, PairingOutcome, PersonRecord } from "../backend.ts";
import { guard, Script } from "./connection.ts";
import type { RedisContext } from "./context.ts";
import { DECIDE_PAIRING, LINK, LIST_PAIRING, PERSON, REQUEST_PAIRING, UNLINK } from "./lua/people.ts";

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

export async function linkIdentities(ctx: RedisContext, instance: string, identities: string[]): Promise<PersonRecord> {
  const [target, members] = await link.run<[string, string]>(ctx.client, identityKeys(ctx, instance), identities);
  return { person: target, identities: JSON.parse(members) as string[] };
}

export async function getPerson(ctx: RedisContext, instance: string, identity: string): Promise<PersonRecord> {
  const reply = await person.run<[] | [string, string]>(ctx.client, identityKeys(ctx, instance), [identity]);
  if (reply.length === 0) return { person: identity, identities: [identity] };
  return { person: reply[0], identities: JSON.parse(reply[1]) as string[] };
}

export async function unlinkIdentity(ctx: RedisContext, instance: string, identity: string): Promise<PersonRecord> {
  await unlink.run<number>(ctx.client, identityKeys(ctx, instance), [identity]);
  return { person: identity, identities: [identity] };
}

export async function requestPairing(
  ctx: RedisContext,
  instance: string,
  input: PairingInput,
): Promise<PairingOutcome> {
  const reply = await request.run<[string, string?, number?]>(ctx.client, pairingKeys(ctx, instance), [
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

export async function listPairing(ctx: RedisContext, instance: string, now: number): Promise<PairingRecord[]> {
  const records = await list.run<string[]>(ctx.client, pairingKeys(ctx, instance).slice(0, 2), [now]);
  return records
    .map((raw) => JSON.parse(raw) as PairingRecord)
    .filter((record) => record.status === "pending")
    .sort((a, b) => a.createdAt - b.createdAt || (a.code < b.code ? -1 : 1));
}

export async function decidePairing(
  ctx: RedisContext,
  instance: string,
  code: string,
  input: PairingDecision,
): Promise<DecisionOutcome> {
  const reply = await decide.run<[string, string?]>(ctx.client, pairingKeys(ctx, instance), [
    input.now,
    code,
    input.decision,
    input.decidedBy,
  ]);
  if (reply[0] === "missing") return { kind: "missing" };
  const record = JSON.parse(reply[1]!) as PairingRecord;
  return reply[0] === "ok" ? { kind: "ok", record } : { kind: "conflict", record };
}

export async function setApproved(ctx: RedisContext, instance: string, identity: string, approved: boolean) {
  const key = ctx.keys.approved(instance);
  await guard(() => (approved ? ctx.client.sadd(key, identity) : ctx.client.srem(key, identity)));
}

export async function isApproved(ctx: RedisContext, instance: string, identity: string): Promise<boolean> {
  return (await guard(() => ctx.client.sismember(ctx.keys.approved(instance), identity))) === 1;
}
