import { LEASE_SECONDS, runOnce } from "../../../clients/memory/run-once.ts";
import type { ApprovalResolved } from "../../../eventing/catalog/events.ts";
import type { Identity } from "../../../eventing/catalog/shared.ts";
import { recallPresser, recallPrompt, rememberVerdict } from "./approval-state.ts";
import type { DeliveryContext, PlatformOutbound } from "./delivery.ts";
import { withPlatformRetries } from "./platform-call.ts";
import { DEFAULT_KEEP_SECONDS, postOnce } from "./post-once.ts";

/**
 * approval.resolved, the agent's verdict: the only thing that changes how a chat shows an approval (a press itself is
 * only acknowledged as received).
 * - approved / denied / expired: the prompt's text gains the outcome and who decided, and its buttons go; where the
 *   platform cannot edit a message, the outcome is posted as a message of its own. Later presses are told it is closed.
 * - refused: only the refused presser is told (ephemerally where the platform can); the prompt and its buttons stay
 *   for the real approvers.
 * Each is done once per verdict (per refused decision), however often the broker redelivers it.
 */
export async function deliverResolution(ctx: DeliveryContext, resolved: ApprovalResolved, eventId: string) {
  const { outbound, kv } = ctx;
  if (resolved.outcome === "refused") {
    const presser = resolved.decidedBy;
    if (presser === undefined) return;
    await once(ctx, `refused:${eventId}`, async () => {
      // Answered where they pressed (the platform context of their press), else in the prompt's conversation.
      const route = (await recallPresser(kv, resolved.approvalId, presser)) ?? resolved.replyTo;
      await outbound.tell(route, presser, refusalText(resolved.reason));
    });
    return;
  }
  const { outcome, decidedBy } = resolved;
  // Recorded before the prompt changes: a press from now on is told the approval is closed, not sent.
  await rememberVerdict(kv, resolved.approvalId, { outcome, ...(decidedBy !== undefined ? { decidedBy } : {}) });
  await once(ctx, `resolved:${resolved.approvalId}`, async () => {
    const line = verdictLine(resolved, outbound);
    const prompt = await recallPrompt(kv, resolved.approvalId);
    if (prompt !== undefined && outbound.update !== undefined) {
      await outbound.update(prompt.route, prompt.ref, withVerdict(prompt.text, line, outbound.split.limit));
    } else {
      // A post of its own (WhatsApp cannot edit): posted once like any part, in doubt included.
      await postOnce(ctx, {
        route: prompt?.route ?? resolved.replyTo,
        text: line,
        idempotencyKey: `approval:${resolved.approvalId}:verdict`,
      });
    }
  });
}

async function once(ctx: DeliveryContext, key: string, work: () => Promise<void>): Promise<void> {
  await runOnce(
    ctx.kv,
    `out:${ctx.outbound.channel}:${key}`,
    { leaseSeconds: LEASE_SECONDS, keepSeconds: ctx.keepSeconds ?? DEFAULT_KEEP_SECONDS },
    () => withPlatformRetries(work, ctx.retry),
  );
}

function nameOf(person: Identity, outbound: Pick<PlatformOutbound, "mention">): string {
  return outbound.mention?.(person) ?? person.displayName ?? person.id;
}

function verdictLine(resolved: ApprovalResolved, outbound: Pick<PlatformOutbound, "mention">): string {
  const reason = resolved.reason !== undefined && resolved.reason !== "" ? `: ${resolved.reason}` : "";
  if (resolved.outcome === "expired") return `Expired${reason || ": no decision in time"}`;
  const verb = resolved.outcome === "approved" ? "Approved" : "Denied";
  return `${verb}${resolved.decidedBy !== undefined ? ` by ${nameOf(resolved.decidedBy, outbound)}` : ""}${reason}`;
}

/** The prompt's text with the verdict below it, shortened to fit the platform's message limit. */
function withVerdict(text: string, line: string, limit: number): string {
  const room = limit - line.length - 2;
  const kept = text.length <= room ? text : `${text.slice(0, Math.max(0, room - 1))}…`;
  return `${kept}\n\n${line}`.slice(0, limit);
}

function refusalText(reason: string | undefined): string {
  return reason !== undefined && reason !== "" ? `Your decision was refused: ${reason}.` : NOT_AN_APPROVER;
}

/** What a presser who may not decide an approval is told. */
export const NOT_AN_APPROVER = "You may not approve this.";
