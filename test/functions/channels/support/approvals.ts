import { makeEvent } from "../../../../eventing/catalog/make.ts";
import type { Identity, ReplyRoute } from "../../../../eventing/catalog/shared.ts";
import * as T from "../../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../../eventing/cloudevent/event.ts";

/** approval.requested as the agent emits it: a held call of run `run-<approvalId>`, for the given approvers. */
export function approvalRequest(fields: {
  approvalId: string;
  replyTo: ReplyRoute;
  approvers?: string[];
  expiresInMs?: number;
  arguments?: unknown;
}): CloudEvent {
  return makeEvent(T.APPROVAL_REQUESTED, {
    source: "/knclaw/agents/ops",
    id: `request-${fields.approvalId}`,
    data: {
      approvalId: fields.approvalId,
      runId: `run-${fields.approvalId}`,
      callId: "1-0",
      instance: "ops",
      skill: "k8s",
      tool: "scale",
      arguments: fields.arguments ?? { replicas: 0 },
      digest: `sha256:${"b".repeat(64)}`,
      ...(fields.approvers !== undefined ? { approvers: fields.approvers } : {}),
      expiresAt: new Date(Date.now() + (fields.expiresInMs ?? 600_000)).toISOString(),
      replyTo: fields.replyTo,
    },
  });
}

/** approval.resolved, the agent's verdict on that approval (refusals get an id per refused decision). */
export function approvalVerdict(fields: {
  approvalId: string;
  replyTo: ReplyRoute;
  outcome: "approved" | "denied" | "refused" | "expired";
  decidedBy?: Identity;
  reason?: string;
  id?: string;
}): CloudEvent {
  return makeEvent(T.APPROVAL_RESOLVED, {
    source: "/knclaw/agents/ops",
    id: fields.id ?? `verdict-${fields.approvalId}-${fields.outcome}`,
    data: {
      approvalId: fields.approvalId,
      runId: `run-${fields.approvalId}`,
      callId: "1-0",
      instance: "ops",
      outcome: fields.outcome,
      ...(fields.decidedBy !== undefined ? { decidedBy: fields.decidedBy } : {}),
      ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
      replyTo: fields.replyTo,
    },
  });
}
