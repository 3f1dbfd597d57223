import type { Identity } from "./shared.ts";

/**
 * The approver entries of approval.requested (and of a task contract's `approvals.approvers`): a person
 * (`person:<id>`, matched against the identity link the channel adapter resolved) or a platform identity
 * (`<channel>:<id>`, any workspace, or `<channel>:<workspace>/<id>`). The agent decides with these; the gateway and the
 * channel adapters read the same entries from approval.requested to turn a non-approver away before anything is sent.
 */
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

export function isApprover(who: Identity, approvers: readonly string[]): boolean {
  return approvers.some((entry) => matchesApprover(entry, who));
}
