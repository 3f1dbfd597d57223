import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import { isApprover } from "../../../eventing/catalog/approvers.ts";
import type { ApprovalRequested, ApprovalResolved } from "../../../eventing/catalog/events.ts";
import type { Identity, ReplyRoute } from "../../../eventing/catalog/shared.ts";
import type { ApprovalRecord } from "./buttons.ts";

/**
 * What an adapter keeps about an approval it was asked to post, in its key-value state (so any replica knows it), for
 * as long as the approval lives plus an hour:
 * - the request (who may approve, until when), from approval.requested;
 * - the prompt as posted (the message that carries the buttons), so the agent's verdict can update it;
 * - the verdict, once the agent sent one (approved, denied, expired): later presses are told so instead of sent;
 * - where each presser whose decision was sent can be answered, for a refusal the agent sends back.
 * The agent alone decides; these records let the chat show only what it decided, and turn away presses it would refuse.
 */
export interface StoredApproval extends ApprovalRecord {
  expiresAt: string;
  approvers?: string[];
}

export interface PostedPrompt {
  route: ReplyRoute;
  /** The platform's id of the message carrying the buttons (the last part of the prompt). */
  ref: string;
  /** That message's text. */
  text: string;
}

export type Verdict = Pick<ApprovalResolved, "decidedBy"> & { outcome: "approved" | "denied" | "expired" };

/** May this presser's decision go to the agent? */
export type PressGate =
  | { kind: "open"; approval: StoredApproval }
  | { kind: "not_approver" }
  | { kind: "closed"; verdict: Verdict };

const HOUR_SECONDS = 3600;

function keepSeconds(expiresAt: string): number {
  const seconds = Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000) + HOUR_SECONDS;
  return Number.isFinite(seconds) ? Math.max(60, seconds) : HOUR_SECONDS;
}

const personKey = (who: Identity) => `${who.channel}:${who.workspace ?? ""}/${who.id}`;

async function readJson<T>(kv: KeyValueState, key: string): Promise<T | undefined> {
  const stored = await kv.get(key);
  return stored === undefined ? undefined : (JSON.parse(stored) as T);
}

export async function rememberApproval(kv: KeyValueState, request: ApprovalRequested): Promise<void> {
  const { approvalId, runId, callId, instance, digest, expiresAt, approvers } = request;
  const record: StoredApproval = {
    approvalId,
    runId,
    callId,
    instance,
    digest,
    expiresAt,
    ...(approvers ? { approvers } : {}),
  };
  await kv.set(`approval:${approvalId}`, JSON.stringify(record), keepSeconds(expiresAt));
}

export function recallApproval(kv: KeyValueState, approvalId: string): Promise<StoredApproval | undefined> {
  return readJson(kv, `approval:${approvalId}`);
}

export async function rememberPrompt(kv: KeyValueState, request: ApprovalRequested, prompt: PostedPrompt) {
  await kv.set(`approval-prompt:${request.approvalId}`, JSON.stringify(prompt), keepSeconds(request.expiresAt));
}

export function recallPrompt(kv: KeyValueState, approvalId: string): Promise<PostedPrompt | undefined> {
  return readJson(kv, `approval-prompt:${approvalId}`);
}

export async function rememberVerdict(kv: KeyValueState, approvalId: string, verdict: Verdict): Promise<void> {
  await kv.set(`approval-verdict:${approvalId}`, JSON.stringify(verdict), 7 * 24 * HOUR_SECONDS);
}

/** Where a presser whose decision was sent can be answered: the conversation (and platform context) of the press. */
export async function rememberPresser(
  kv: KeyValueState,
  approval: StoredApproval,
  presser: Identity,
  route: ReplyRoute,
) {
  const key = `approval-presser:${approval.approvalId}:${personKey(presser)}`;
  await kv.set(key, JSON.stringify(route), keepSeconds(approval.expiresAt));
}

export function recallPresser(
  kv: KeyValueState,
  approvalId: string,
  presser: Identity,
): Promise<ReplyRoute | undefined> {
  return readJson(kv, `approval-presser:${approvalId}:${personKey(presser)}`);
}

/**
 * The adapter's own check before a decision is sent: an approval the agent already ruled on, or that expired, takes no
 * more decisions; a presser not among its approvers is turned away. The agent checks again whatever the adapter says.
 */
export async function pressGate(
  kv: KeyValueState,
  approvalId: string,
  presser: Identity,
  now: number,
): Promise<PressGate> {
  const [approval, verdict] = await Promise.all([
    recallApproval(kv, approvalId),
    readJson<Verdict>(kv, `approval-verdict:${approvalId}`),
  ]);
  if (verdict !== undefined) return { kind: "closed", verdict };
  // Forgotten means long expired: the record lives an hour past the approval's expiry.
  if (approval === undefined || Date.parse(approval.expiresAt) <= now)
    return { kind: "closed", verdict: { outcome: "expired" } };
  if (approval.approvers !== undefined && !isApprover(presser, approval.approvers)) return { kind: "not_approver" };
  return { kind: "open", approval };
}
