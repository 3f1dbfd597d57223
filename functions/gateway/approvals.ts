import { isApprover } from "../../eventing/catalog/approvers.ts";
import type { ApprovalRecord, ApprovalVerdict } from "./run-store.ts";

/**
 * An approval as the gateway knows it (the `approval.requested` it was sent and the agent's verdict), and whether a
 * token may decide it. One rule for `POST /api/v1/approvals/{id}`, `GET /api/v1/approvals/{id}` and the console's
 * buttons, so the console offers Approve/Deny exactly to the tokens the API would forward a decision from.
 */
type ApprovalStatus = "open" | "approved" | "denied" | "expired";

export function approvalStatus(approval: ApprovalRecord, verdict: ApprovalVerdict | undefined, now: number) {
  if (verdict !== undefined) return verdict.outcome;
  return Date.parse(approval.expiresAt) <= now ? "expired" : "open";
}

/**
 * The token named `tokenName` is among the approval's approvers (`http:<token name>`, or any when the agent named
 * none: then only the agent can tell, and it checks every decision again).
 */
export function tokenMayApprove(approval: ApprovalRecord, tokenName: string): boolean {
  return approval.approvers === undefined || isApprover({ channel: "http", id: tokenName }, approval.approvers);
}

/** `GET /api/v1/approvals/{id}`: the approval, its state, and `mayDecide` for the calling token. */
export function approvalView(
  approval: ApprovalRecord,
  verdict: ApprovalVerdict | undefined,
  tokenName: string,
  now: number,
) {
  const status: ApprovalStatus = approvalStatus(approval, verdict, now);
  return {
    ...approval,
    status,
    ...(verdict?.decidedBy !== undefined ? { decidedBy: verdict.decidedBy } : {}),
    mayDecide: status === "open" && tokenMayApprove(approval, tokenName),
  };
}
