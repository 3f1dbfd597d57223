import { readEvent } from "../../eventing/catalog/make.ts";
import * as T from "../../eventing/catalog/types.ts";
import { CloudEventError } from "../../eventing/cloudevent/errors.ts";
import type { CloudEvent } from "../../eventing/cloudevent/event.ts";
import { CHAT_TIMER, type ChatRedriveContext, onChatMessage, onChatOutcome, onChatTimer } from "./chat-redrive.ts";
import { onRedriveTimer, REDRIVE_TIMER } from "./redrive.ts";
import type { RunContext } from "./runs.ts";

/**
 * What the broker delivers to the gateway (the renderer's `gateway-*` Triggers): message.send, approval.requested and
 * approval.resolved for the `http` channel (whose conversation is the run id), and every run.completed / run.failed.
 * approval.resolved keeps the approval records true: a verdict closes the approval to further decisions (409/410), a
 * refusal of a decision this gateway forwarded opens it again. Only runs the gateway started are kept; the rest are
 * acknowledged and dropped. A 2xx is answered only once the memory service stored the event, so a failure is
 * redelivered. Its own re-drive timers (timer.fired, target `gateway`) come here too (redrive.ts), and every chat
 * message.received, which it re-drives until its run ends (chat-redrive.ts; only with `forward` and `findRun`).
 */
export function createGatewayDeliveries(
  ctx: RunContext & Partial<Pick<ChatRedriveContext, "forward" | "findRun">>,
): (event: CloudEvent) => Promise<void> {
  const chat: ChatRedriveContext | undefined =
    ctx.forward !== undefined && ctx.findRun !== undefined
      ? { ...ctx, forward: ctx.forward, findRun: ctx.findRun }
      : undefined;
  const { store, waiter } = ctx;
  return async (event) => {
    const id = event.attributes.id!;
    const at = event.attributes.time ?? new Date().toISOString();
    switch (event.attributes.type) {
      case T.MESSAGE_SEND: {
        const send = readEvent(event, T.MESSAGE_SEND);
        if (send.route.channel !== "http") throw new CloudEventError(400, "the gateway only answers the http channel");
        const runId = send.route.conversation;
        if ((await store.get(runId)) === undefined) break;
        await store.append(
          runId,
          id,
          "message",
          { text: send.text, ...(send.buttons ? { buttons: send.buttons } : {}) },
          at,
        );
        waiter.notify(runId);
        break;
      }
      case T.APPROVAL_REQUESTED: {
        const approval = readEvent(event, T.APPROVAL_REQUESTED);
        if (approval.replyTo.channel !== "http")
          throw new CloudEventError(400, "the gateway only answers the http channel");
        await store.rememberApproval({
          approvalId: approval.approvalId,
          runId: approval.runId,
          callId: approval.callId,
          instance: approval.instance,
          digest: approval.digest,
          expiresAt: approval.expiresAt,
          ...(approval.approvers !== undefined ? { approvers: approval.approvers } : {}),
        });
        if ((await store.get(approval.runId)) !== undefined) {
          await store.append(
            approval.runId,
            id,
            "approval",
            {
              approvalId: approval.approvalId,
              skill: approval.skill,
              tool: approval.tool,
              arguments: approval.arguments,
              digest: approval.digest,
              expiresAt: approval.expiresAt,
              ...(approval.reason !== undefined ? { reason: approval.reason } : {}),
            },
            at,
          );
          waiter.notify(approval.runId);
        }
        break;
      }
      case T.APPROVAL_RESOLVED: {
        const resolved = readEvent(event, T.APPROVAL_RESOLVED);
        if (resolved.replyTo.channel !== "http")
          throw new CloudEventError(400, "the gateway only answers the http channel");
        const by =
          resolved.decidedBy !== undefined ? `${resolved.decidedBy.channel}:${resolved.decidedBy.id}` : undefined;
        if (resolved.outcome === "refused") {
          // The call is still held: the refused decider's hold goes, so a real approver can decide.
          if (resolved.decidedBy?.channel === "http")
            await store.releaseDecision(resolved.approvalId, resolved.decidedBy.id);
        } else {
          await store.rememberVerdict(resolved.approvalId, {
            outcome: resolved.outcome,
            ...(by !== undefined ? { decidedBy: by } : {}),
            at,
          });
        }
        if ((await store.get(resolved.runId)) !== undefined) {
          await store.append(
            resolved.runId,
            id,
            "approval_resolved",
            {
              approvalId: resolved.approvalId,
              outcome: resolved.outcome,
              ...(by !== undefined ? { decidedBy: by } : {}),
              ...(resolved.reason !== undefined ? { reason: resolved.reason } : {}),
            },
            at,
          );
          waiter.notify(resolved.runId);
        }
        break;
      }
      case T.RUN_COMPLETED:
      case T.RUN_FAILED: {
        const completed = event.attributes.type === T.RUN_COMPLETED;
        const outcome = completed ? readEvent(event, T.RUN_COMPLETED) : readEvent(event, T.RUN_FAILED);
        const record = await store.get(outcome.runId);
        if (record === undefined) {
          await onChatOutcome(ctx, outcome.instance, outcome.runId);
          break;
        }
        const common = { usage: outcome.usage, costUsd: outcome.costUsd, durationMs: outcome.durationMs };
        const data: Record<string, unknown> =
          "output" in outcome
            ? { output: outcome.output, ...common }
            : { reason: outcome.reason, message: outcome.message, ...common };
        // The log first: a reader that sees the record finished must find the outcome in the log too.
        await store.append(outcome.runId, id, completed ? "completed" : "failed", data, at);
        await store.finish({
          ...record,
          ...data,
          status: completed ? "completed" : "failed",
          finishedAt: at,
        } as typeof record);
        waiter.notify(outcome.runId);
        // The outcome is in: the run's re-drive timer has nothing left to do (if it fires anyway, it finds that).
        await ctx.redrive?.timers.disarm(record).catch((error: unknown) => {
          ctx.log.warn({ runId: record.runId, err: (error as Error).name }, "re-drive timer not disarmed");
        });
        break;
      }
      case T.TIMER_FIRED: {
        const fired = readEvent(event, T.TIMER_FIRED);
        if (fired.target === "gateway" && fired.kind === REDRIVE_TIMER) await onRedriveTimer(ctx, fired);
        else if (fired.target === "gateway" && fired.kind === CHAT_TIMER && chat !== undefined)
          await onChatTimer(chat, fired);
        else throw new CloudEventError(400, `the gateway keeps no ${fired.target} timers of kind ${fired.kind}`);
        break;
      }
      case T.MESSAGE_RECEIVED: {
        if (chat !== undefined) await onChatMessage(chat, event, readEvent(event, T.MESSAGE_RECEIVED));
        break;
      }
      default:
        throw new CloudEventError(400, `the gateway does not handle ${event.attributes.type}`);
    }
  };
}

/** The largest delivery the gateway reads: a run's outcome or message. */
export const MAX_DELIVERY_BYTES = 1024 * 1024;
