import type { Identity } from "../../../eventing/catalog/shared.ts";
import type { InstanceAccess } from "./config.ts";
import type { IdentityDirectory, PendingPairing } from "./state.ts";

/**
 * Who may talk to an instance (ARCHITECTURE.md, "Channels"). The deny-list always wins; then the access mode decides
 * between "talk", "get a pairing code" and "ignored". Ignored senders get no answer at all, so an adapter cannot be
 * used to probe which ids are configured.
 */
export type AccessDecision =
  | { kind: "allowed"; identity: Identity }
  | { kind: "pairing"; identity: Identity; pairing: PendingPairing }
  | { kind: "ignored"; identity: Identity; reason: "denied" | "not_allowed" };

function senderMatches(patterns: readonly string[], identity: Identity): boolean {
  for (const pattern of patterns) {
    if (pattern === "*") return true;
    if (pattern === identity.id) return true;
    if (identity.workspace !== undefined && pattern === `${identity.workspace}/${identity.id}`) return true;
    if (identity.person !== undefined && pattern === `person:${identity.person}`) return true;
  }
  return false;
}

export async function decideAccess(
  access: InstanceAccess,
  directory: IdentityDirectory,
  instance: string,
  sender: Identity,
  options: { offerPairing?: boolean } = {},
): Promise<AccessDecision> {
  const record = await directory.lookup(instance, sender);
  const identity: Identity = record.person !== undefined ? { ...sender, person: record.person } : sender;
  if (senderMatches(access.deny, identity)) return { kind: "ignored", identity, reason: "denied" };
  if (access.mode === "open" || senderMatches(access.allow, identity)) return { kind: "allowed", identity };
  if (access.mode === "allowlist") return { kind: "ignored", identity, reason: "not_allowed" };
  if (await directory.isPaired(instance, identity)) return { kind: "allowed", identity };
  if (options.offerPairing === false) return { kind: "ignored", identity, reason: "not_allowed" };
  const pairing = await directory.requestPairing(instance, identity);
  if (pairing === "approved") return { kind: "allowed", identity };
  if (pairing === "full") return { kind: "ignored", identity, reason: "not_allowed" };
  return { kind: "pairing", identity, pairing };
}

/** What an unknown sender is told: the code and what the operator runs. No instance detail beyond its name. */
export function pairingMessage(pairing: PendingPairing): string {
  return [
    "Hi! I don't know you yet, so I can't answer.",
    `Your pairing code is ${pairing.code}.`,
    `Ask an operator to approve it: knclaw pairing approve ${pairing.code}`,
  ].join("\n");
}
