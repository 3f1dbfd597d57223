import { isApprover } from "../../../eventing/catalog/approvers.ts";
import type { Identity } from "../../../eventing/catalog/shared.ts";

/**
 * Who may approve a held call, as approver entries (eventing/catalog/approvers.ts): the policy's, or, when no policy
 * names any, entries naming the person who started the run (their linked person and their platform identity).
 * Nobody else ever can. The same entries go out in approval.requested, so the gateway and the chat adapters turn a
 * non-approver away with the very rule the agent applies.
 */
export function approverEntries(approvers: readonly string[] | undefined, requester: Identity | undefined): string[] {
  if (approvers !== undefined) return [...approvers];
  if (requester === undefined) return [];
  const platform =
    requester.workspace !== undefined
      ? `${requester.channel}:${requester.workspace}/${requester.id}`
      : `${requester.channel}:${requester.id}`;
  return requester.person !== undefined ? [`person:${requester.person}`, platform] : [platform];
}

export function mayApprove(
  decidedBy: Identity,
  approvers: readonly string[] | undefined,
  requester: Identity | undefined,
): boolean {
  return isApprover(decidedBy, approverEntries(approvers, requester));
}

export function describeIdentity(who: Identity): string {
  return who.displayName ?? `${who.channel}:${who.id}`;
}
