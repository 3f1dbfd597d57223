import { EXT_TRACEPARENT, EXT_TRACESTATE } from "../../../eventing/catalog/attributes.ts";
import type { ApprovalResolved } from "../../../eventing/catalog/events.ts";
import { derivedEventId, makeEvent } from "../../../eventing/catalog/make.ts";
import type { Button, Identity } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import type { CapabilityRequest } from "../../../skills/runtime/capability.ts";
import { approverEntries } from "./approvers.ts";
import type { PendingCall, RunState, StoredEvent } from "./state.ts";

/**
 * The events a run emits, with deterministic ids (ARCHITECTURE.md, "Events"): the same run, step and call always give
 * the same id, so a re-emitted outbox is absorbed by every consumer's de-duplication.
 */
export interface EventContext {
  now: number;
  source: string;
  sign(request: CapabilityRequest): string;
}

const MAX_TEXT = 64 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toolRequestedEvent(state: RunState, call: PendingCall, ctx: EventContext): CloudEvent {
  const token = ctx.sign({
    runId: state.runId,
    instance: state.instance,
    skill: call.skill!,
    tool: call.tool!,
    callId: call.id,
    digest: call.digest!,
  });
  const data = {
    runId: state.runId,
    callId: call.id,
    instance: state.instance,
    skill: call.skill!,
    tool: call.tool!,
    arguments: call.args ?? {},
    token,
    attempt: call.attempt,
    ...(call.deadlineAt !== undefined ? { deadline: new Date(call.deadlineAt).toISOString() } : {}),
  };
  return makeEvent(T.TOOL_REQUESTED, {
    id: derivedEventId(state.runId, "tool", call.id, call.attempt),
    source: ctx.source,
    time: new Date(ctx.now),
    data,
    extensions: trace(state),
  });
}

export function approvalRequestedEvent(state: RunState, call: PendingCall, ctx: EventContext): CloudEvent {
  const approval = call.approval!;
  return makeEvent(T.APPROVAL_REQUESTED, {
    id: derivedEventId(state.runId, "approval", call.id),
    source: ctx.source,
    time: new Date(ctx.now),
    data: {
      approvalId: approval.id,
      runId: state.runId,
      callId: call.id,
      instance: state.instance,
      skill: call.skill!,
      tool: call.tool!,
      arguments: call.args ?? {},
      digest: call.digest!,
      reason: `The agent wants to call ${call.ref} with these exact arguments.`,
      approvers: approverEntries(approval.approvers, state.requester),
      expiresAt: new Date(approval.expiresAt).toISOString(),
      replyTo: state.replyTo!,
    },
    extensions: trace(state),
  });
}

export interface Resolution {
  outcome: ApprovalResolved["outcome"];
  decidedBy?: Identity;
  reason?: string;
  /** For a refusal: its number among this approval's refusals, so each refused decision is answered under its own id. */
  refusal?: number;
}

/**
 * The agent's verdict on an approval: one per approval for approved, denied and expired; one per refused decision
 * (a non-approver may press twice, and each press deserves its answer), with ids derived from the run, the call and
 * the refusal's number, so a redelivered decision or a re-sent outbox never announces twice.
 */
export function approvalResolvedEvent(
  state: RunState,
  call: PendingCall,
  ctx: Pick<EventContext, "now" | "source">,
  resolution: Resolution,
): CloudEvent {
  const id =
    resolution.outcome === "refused"
      ? derivedEventId(state.runId, "approval-refused", call.id, resolution.refusal ?? 0)
      : derivedEventId(state.runId, "approval-resolved", call.id);
  return makeEvent(T.APPROVAL_RESOLVED, {
    id,
    source: ctx.source,
    time: new Date(ctx.now),
    data: {
      approvalId: call.approval!.id,
      runId: state.runId,
      callId: call.id,
      instance: state.instance,
      outcome: resolution.outcome,
      ...(resolution.decidedBy !== undefined ? { decidedBy: resolution.decidedBy } : {}),
      ...(resolution.reason !== undefined ? { reason: resolution.reason.slice(0, 4096) } : {}),
      replyTo: state.replyTo!,
    },
    extensions: trace(state),
  });
}

export function messageSendEvent(
  state: RunState,
  step: string,
  text: string,
  ctx: Pick<EventContext, "now" | "source">,
  buttons?: Button[],
): CloudEvent {
  const id = derivedEventId(state.runId, "send", step);
  return makeEvent(T.MESSAGE_SEND, {
    id,
    source: ctx.source,
    time: new Date(ctx.now),
    data: {
      instance: state.instance,
      runId: state.runId,
      route: state.replyTo!,
      text: clip(text === "" ? "(no answer)" : text, state.runId),
      idempotencyKey: id,
      ...(buttons ? { buttons } : {}),
    },
    extensions: trace(state),
  });
}

export function outcomeEvent(state: RunState, ctx: Pick<EventContext, "now" | "source">): CloudEvent {
  const outcome = state.outcome!;
  const base = {
    runId: state.runId,
    instance: state.instance,
    usage: state.usage,
    costUsd: state.costUsd,
    durationMs: Math.max(0, ctx.now - state.startedAt),
    turns: state.turns,
    toolCalls: state.toolCalls,
    contractVersion: state.contractVersion.slice(0, 128),
    ...(state.replyTo ? { replyTo: state.replyTo } : {}),
  };
  const id = derivedEventId(state.runId, "outcome");
  if (outcome.status === "completed") {
    return makeEvent(T.RUN_COMPLETED, {
      id,
      source: ctx.source,
      time: new Date(ctx.now),
      data: { ...base, output: clip(outcome.output, state.runId) },
      extensions: trace(state),
    });
  }
  return makeEvent(T.RUN_FAILED, {
    id,
    source: ctx.source,
    time: new Date(ctx.now),
    data: {
      ...base,
      reason: (outcome.reason ?? "failed").slice(0, 256),
      message: (outcome.message ?? "").slice(0, 4096),
    },
    extensions: trace(state),
  });
}

function trace(state: RunState): Record<string, string | undefined> {
  return { [EXT_TRACEPARENT]: state.trace?.traceparent, [EXT_TRACESTATE]: state.trace?.tracestate };
}

/**
 * An answer longer than a message.send holds is cut, but never silently: the message ends saying how much is not
 * shown and where the whole answer is (the run keeps it; the operator console shows it).
 */
function clip(text: string, runId: string): string {
  if (text.length <= MAX_TEXT) return text;
  const notice = (count: number) =>
    `\n\n[${count.toLocaleString("en-US")} more characters are not shown: a chat message holds ${MAX_TEXT.toLocaleString("en-US")}. The whole answer is run ${runId} in the operator console (/console/runs/${runId}).]`;
  let end = MAX_TEXT - notice(text.length).length;
  // Never half a surrogate pair.
  if (end > 0 && text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${notice(text.length - end)}`;
}

export function storeEvent(event: CloudEvent, notBefore?: number): StoredEvent {
  const stored: StoredEvent = { attributes: { ...event.attributes } };
  if (event.data !== undefined) stored.data = decoder.decode(event.data);
  if (notBefore !== undefined) stored.notBefore = notBefore;
  return stored;
}

export function loadEvent(stored: StoredEvent): CloudEvent {
  return stored.data === undefined
    ? { attributes: stored.attributes }
    : { attributes: stored.attributes, data: encoder.encode(stored.data) };
}
