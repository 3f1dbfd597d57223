import { createHash } from "node:crypto";
import { z } from "zod";
import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import type { ApprovalRequested } from "../../../eventing/catalog/events.ts";
import type { Button } from "../../../eventing/catalog/shared.ts";

/**
 * Buttons carry a short token instead of their meaning: Telegram's callback_data holds 64 bytes at most, far too
 * little for an approval's run, call and digest. The meaning is stored under the token and looked up on a press.
 *
 * Tokens are derived from the send's idempotency key and the button's position, so a redelivered send renders the
 * very same buttons. Idempotency keys derive from random run ids, so chat users cannot guess the tokens of buttons
 * they were not shown; a press is also only honoured from the conversation the buttons were posted in.
 */
export const ButtonAction = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("approval"),
    decision: z.enum(["approve", "deny"]),
    approvalId: z.string(),
    runId: z.string(),
    callId: z.string(),
    instance: z.string(),
    digest: z.string(),
    conversation: z.string(),
  }),
  z.object({
    kind: z.literal("reply"),
    buttonId: z.string(),
    label: z.string(),
    instance: z.string(),
    conversation: z.string(),
  }),
]);
export type ButtonAction = z.infer<typeof ButtonAction>;

export interface RenderedButton {
  /** What the platform hands back on a press (`callback_data`, `action_id`, `custom_id`, reply id). */
  data: string;
  label: string;
  style?: Button["style"];
}

/** Approval details kept from approval.requested so a later message.send with `approvalId` can render them too. */
export type ApprovalRecord = Pick<ApprovalRequested, "approvalId" | "runId" | "callId" | "instance" | "digest">;

const BUTTON_PREFIX = "kc1:";
const DEFAULT_KEEP_SECONDS = 7 * 24 * 3600;

function buttonToken(scope: string, index: number): string {
  return createHash("sha256").update(`${scope}\u0000${index}`).digest("base64url").slice(0, 22);
}

/** Store each action under its token and return the platform-facing buttons. */
export async function registerButtons(
  kv: KeyValueState,
  scope: string,
  buttons: Array<{ action: ButtonAction; label: string; style?: Button["style"] }>,
  keepSeconds: number = DEFAULT_KEEP_SECONDS,
): Promise<RenderedButton[]> {
  const rendered: RenderedButton[] = [];
  for (const [index, button] of buttons.entries()) {
    const token = buttonToken(scope, index);
    await kv.set(`btn:${token}`, JSON.stringify(button.action), keepSeconds);
    rendered.push({
      data: `${BUTTON_PREFIX}${token}`,
      label: button.label,
      ...(button.style !== undefined ? { style: button.style } : {}),
    });
  }
  return rendered;
}

/** The action behind a pressed button's data; undefined for data that is not ours or has expired. */
export async function resolveButton(kv: KeyValueState, data: string): Promise<ButtonAction | undefined> {
  if (!data.startsWith(BUTTON_PREFIX)) return undefined;
  const token = data.slice(BUTTON_PREFIX.length);
  if (!/^[A-Za-z0-9_-]{22}$/.test(token)) return undefined;
  const stored = await kv.get(`btn:${token}`);
  if (stored === undefined) return undefined;
  try {
    const parsed = ButtonAction.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function approvalActions(record: ApprovalRecord, conversation: string) {
  const base = {
    kind: "approval" as const,
    approvalId: record.approvalId,
    runId: record.runId,
    callId: record.callId,
    instance: record.instance,
    digest: record.digest,
    conversation,
  };
  return [
    { action: { ...base, decision: "approve" as const }, label: "Approve", style: "primary" as const },
    { action: { ...base, decision: "deny" as const }, label: "Deny", style: "danger" as const },
  ];
}
