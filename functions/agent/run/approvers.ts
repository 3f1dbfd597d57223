import type { Identity } from "../../../eventing/catalog/shared.ts";

/**
 * Who may approve a held call. Approver entries name a person (`person:<id>`, matched against the identity link the
 * channel adapter resolved) or a platform identity (`<channel>:<id>` or `<channel>:<workspace>/<id>`). When no policy
 * names approvers, only the person who started the run may approve. Nobody else ever can.
 */
export function mayApprove(
  decidedBy: Identity,
  approvers: readonly string[] | undefined,
  requester: Identity | undefined,
): boolean {
  if (approvers === undefined) return requester !== undefined && sameIdentity(decidedBy, requester);
  return approvers.some((entry) => matchesApprover(entry, decidedBy));
}

export function matchesApprover(entry: string, who: Identity): boolean {
  if (entry.startsWith("person:")) return who.person !== undefined && entry.slice(7) === who.person;
  const colon = entry.indexOf(":");
  if (colon <= 0) return false;
  const channel = entry.slice(0, colon);
  const rest = entry.slice(colon + 1);
  if (channel !== who.channel) return false;
  const slash = rest.indexOf("/");
  if (slash < 0) return rest === who.id;
  return rest.slice(0, slash) === (who.workspace ?? "") && rest.slice(slash + 1) === who.id;
}

function sameIdentity(a: Identity, b: Identity): boolean {
  if (a.person !== undefined && b.person !== undefined) return a.person === b.person;
  return a.channel === b.channel && a.id === b.id && (a.workspace ?? "") === (b.workspace ?? "");
}

export function describeIdentity(who: Identity): string {
  return who.displayName ?? `${who.channel}:${who.id}`;
}
