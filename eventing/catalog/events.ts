import { z } from "zod";
import { TaskContract } from "./contract.ts";
import {
  Button,
  ChannelType,
  Identity,
  InstanceName,
  ReplyRoute,
  SkillName,
  TimerData,
  TimerId,
  TimerKind,
  TimerTarget,
  ToolError,
  Usage,
} from "./shared.ts";
import * as T from "./types.ts";

/** One zod schema per event type's data (ARCHITECTURE.md, "Events"). Schemas are strict: unknown fields are refused. */

const id = z.string().min(1).max(256);
const text = z.string().max(64 * 1024);
const timestamp = z.iso.datetime({ offset: true });

export const Attachment = z
  .object({
    name: z.string().max(256).optional(),
    mimeType: z.string().max(128).optional(),
    size: z.number().int().nonnegative().optional(),
    /** A platform URL the adapter can fetch with its own credentials; never a signed URL with secrets in it. */
    url: z.string().url().max(2048).optional(),
    platformId: z.string().max(256).optional(),
  })
  .strict();

export const MessageReceived = z
  .object({
    instance: InstanceName,
    channel: ChannelType,
    /** The platform's id for this message: the session append is idempotent on it. */
    messageId: id,
    conversation: z.string().min(1).max(256),
    thread: z.string().max(256).optional(),
    sender: Identity,
    text,
    attachments: z.array(Attachment).max(32).default([]),
    /** A chat command recognised by the adapter (`/new`, `/reset`, `/status`, `/stop`). */
    command: z.enum(["new", "reset", "status", "stop"]).optional(),
    replyTo: ReplyRoute,
    receivedAt: timestamp,
  })
  .strict();
export type MessageReceived = z.infer<typeof MessageReceived>;

export const RunRequested = z
  .object({
    instance: InstanceName,
    runId: id,
    task: text,
    /** Caller-provided payload (webhook body, API input): always shown to the model as untrusted content. */
    input: z.unknown().optional(),
    contract: TaskContract.optional(),
    sessionKey: z.string().min(1).max(512).optional(),
    requestedBy: Identity.optional(),
    replyTo: ReplyRoute.optional(),
    /** Set when the run comes from a schedule tick. */
    schedule: z.string().max(128).optional(),
  })
  .strict();
export type RunRequested = z.infer<typeof RunRequested>;

/** PingSource data for knclaw schedules; the instance and schedule also travel as ceOverrides extensions. */
export const PingData = z.object({ task: text.optional() }).passthrough();
export type PingData = z.infer<typeof PingData>;

export const ToolRequested = z
  .object({
    runId: id,
    callId: id,
    instance: InstanceName,
    skill: SkillName,
    tool: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    arguments: z.unknown(),
    /** Ed25519 capability token binding run, instance, skill, tool, argument digest and expiry. */
    token: z.string().min(1).max(4096),
    attempt: z.number().int().positive().default(1),
    deadline: timestamp.optional(),
  })
  .strict();
export type ToolRequested = z.infer<typeof ToolRequested>;

export const ToolOutcome = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), result: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: ToolError }).strict(),
]);
export type ToolOutcome = z.infer<typeof ToolOutcome>;

export const ToolCompleted = z
  .object({
    runId: id,
    callId: id,
    instance: InstanceName,
    skill: SkillName,
    tool: z.string().max(64),
    attempt: z.number().int().positive().default(1),
    /**
     * sha256 of the canonical JSON of the arguments the skill ran (those its capability token named): the agent takes
     * the answer only for a call it sent this skill with this digest.
     */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    outcome: ToolOutcome,
    durationMs: z.number().nonnegative(),
  })
  .strict();
export type ToolCompleted = z.infer<typeof ToolCompleted>;

export const ApprovalRequested = z
  .object({
    approvalId: id,
    runId: id,
    callId: id,
    instance: InstanceName,
    skill: SkillName,
    tool: z.string().max(64),
    arguments: z.unknown(),
    /** sha256 of the canonical JSON of the exact arguments: an approval only releases this call. */
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    reason: z.string().max(4096).optional(),
    /** Who may decide, as approver entries (approvers.ts): the policy's, or the requester's person and identity. */
    approvers: z.array(z.string().max(600)).max(256).optional(),
    expiresAt: timestamp,
    replyTo: ReplyRoute,
  })
  .strict();
export type ApprovalRequested = z.infer<typeof ApprovalRequested>;

export const ApprovalDecided = z
  .object({
    approvalId: id,
    runId: id,
    callId: id,
    instance: InstanceName,
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    decision: z.enum(["approve", "deny"]),
    decidedBy: Identity,
    reason: z.string().max(4096).optional(),
  })
  .strict();
export type ApprovalDecided = z.infer<typeof ApprovalDecided>;

/**
 * What the agent made of an approval: the only event that may change how a chat or the gateway shows it.
 * - `approved` / `denied`: a permitted approver decided; the call was released or refused.
 * - `refused`: the decision came from someone who may not approve this call; the call stays held for the real
 *   approvers, and only the refused person is told (ephemerally where the platform can).
 * - `expired`: no permitted decision arrived before `expiresAt`.
 */
export const ApprovalResolved = z
  .object({
    approvalId: id,
    runId: id,
    callId: id,
    instance: InstanceName,
    outcome: z.enum(["approved", "denied", "refused", "expired"]),
    /** Who decided (approved, denied) or whose decision was refused (refused); absent for expired. */
    decidedBy: Identity.optional(),
    reason: z.string().max(4096).optional(),
    /** Where the approval prompt was posted, so the adapter can update that message. */
    replyTo: ReplyRoute,
  })
  .strict();
export type ApprovalResolved = z.infer<typeof ApprovalResolved>;

export const MessageSend = z
  .object({
    instance: InstanceName,
    runId: id.optional(),
    route: ReplyRoute,
    text,
    buttons: z.array(Button).max(25).optional(),
    /** Adapters remember it: a redelivered send never posts twice. */
    idempotencyKey: id,
    /** For approval prompts: the approval the buttons decide. */
    approvalId: id.optional(),
  })
  .strict();
export type MessageSend = z.infer<typeof MessageSend>;

const outcomeBase = {
  runId: id,
  instance: InstanceName,
  usage: Usage,
  costUsd: z.number().nonnegative(),
  durationMs: z.number().nonnegative(),
  turns: z.number().int().nonnegative(),
  toolCalls: z.number().int().nonnegative(),
  contractVersion: z.string().max(128),
  replyTo: ReplyRoute.optional(),
};

const RunCompleted = z.object({ ...outcomeBase, output: text }).strict();
export type RunCompleted = z.infer<typeof RunCompleted>;

const RunFailed = z
  .object({
    ...outcomeBase,
    /** Machine-readable: `budget_exceeded:<kind>`, `max_turns`, `tool_failures`, `stopped`, `model_error`, ... */
    reason: z.string().min(1).max(256),
    message: z.string().max(4096),
  })
  .strict();
export type RunFailed = z.infer<typeof RunFailed>;

/**
 * A due-time timer fired (the memory service emits it, at least once per due time; its id is derived from the timer
 * and the due time, so a re-fire after a crash is a duplicate). Routed by instance and target, so it wakes only the
 * function that armed it.
 */
export const TimerFired = z
  .object({
    instance: InstanceName,
    target: TimerTarget,
    kind: TimerKind,
    id: TimerId,
    dueAt: timestamp,
    data: TimerData.optional(),
  })
  .strict();
export type TimerFired = z.infer<typeof TimerFired>;

export const EVENT_SCHEMAS = {
  [T.MESSAGE_RECEIVED]: MessageReceived,
  [T.RUN_REQUESTED]: RunRequested,
  [T.PING]: PingData,
  [T.TOOL_REQUESTED]: ToolRequested,
  [T.TOOL_COMPLETED]: ToolCompleted,
  [T.APPROVAL_REQUESTED]: ApprovalRequested,
  [T.APPROVAL_DECIDED]: ApprovalDecided,
  [T.APPROVAL_RESOLVED]: ApprovalResolved,
  [T.MESSAGE_SEND]: MessageSend,
  [T.RUN_COMPLETED]: RunCompleted,
  [T.RUN_FAILED]: RunFailed,
  [T.TIMER_FIRED]: TimerFired,
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
export type EventData<K extends EventType> = z.infer<(typeof EVENT_SCHEMAS)[K]>;
export type EventDataInput<K extends EventType> = z.input<(typeof EVENT_SCHEMAS)[K]>;
