import type { z } from "zod";
import { LEASE_SECONDS, runOnce } from "../../../clients/memory/run-once.ts";
import type { Attachment, MessageReceived } from "../../../eventing/catalog/events.ts";
import { derivedEventId, makeEvent } from "../../../eventing/catalog/make.ts";
import type { ChannelType, Identity, ReplyRoute } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import type { EventSink } from "../../../eventing/client/broker-client.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import type { Logger } from "../../../runtime/log.ts";
import { decideAccess, pairingMessage } from "./access.ts";
import { pressGate, rememberPresser, type Verdict } from "./approval-state.ts";
import { type ButtonAction, resolveButton } from "./buttons.ts";
import { parseChatText } from "./commands.ts";
import { accessFor, type ChannelAdapterConfig, routeInstance } from "./config.ts";
import { ChannelGroups, type GroupContext, type GroupRefusal, groupRefusal } from "./groups.ts";
import { NOT_AN_APPROVER } from "./resolution.ts";
import type { ChannelState } from "./state.ts";

/**
 * The platform-independent half of every inbound webhook: once a platform adapter has verified a request and
 * normalised it, this routes it to an instance, checks who is speaking, and emits exactly one event per platform
 * message, however often the platform retries. The emit must have been accepted by the broker before the adapter
 * acknowledges the platform; any failure propagates so the adapter answers with a status the platform retries.
 */
export interface InboundContext {
  channel: ChannelType;
  /** CloudEvent `source` of what this adapter emits, e.g. `/knclaw/channels/slack`. */
  source: string;
  config: ChannelAdapterConfig;
  state: ChannelState;
  sink: EventSink;
  /** How long a platform keeps retrying: the de-duplication memory must outlive it. */
  dedupKeepSeconds: number;
  now?: () => Date;
  /** Where a press turned away is recorded (the decision never reaches the agent's audit stream). */
  log: Logger;
}

export interface InboundMessage {
  /** The platform's unique id of this delivery, scoped enough to be unique across workspaces. */
  dedupKey: string;
  messageId: string;
  workspace?: string;
  conversation: string;
  thread?: string;
  sender: Identity;
  text: string;
  attachments?: z.infer<typeof Attachment>[];
  replyTo: ReplyRoute;
  /** Set for a message in a group conversation: whether it addresses the bot (groups.ts decides what follows). */
  group?: GroupContext;
}

export type InboundOutcome =
  | { kind: "emitted"; instance: string; eventId: string }
  | { kind: "duplicate" }
  | { kind: "pairing"; instance: string; text: string }
  | { kind: "ignored"; reason: "no_route" | "denied" | "not_allowed" | GroupRefusal };

/**
 * Handle one normalised platform message. `sendPairing` posts the pairing text back on the platform; it runs inside
 * the once-only section so a retried delivery never sends the code twice (pass nothing when the adapter answers
 * in its HTTP response instead, as Discord does).
 */
export async function receiveMessage(
  ctx: InboundContext,
  message: InboundMessage,
  sendPairing?: (text: string) => Promise<void>,
): Promise<InboundOutcome> {
  // Before anything is stored: in a busy group most messages are not for the bot, and each would cost a claim.
  const refusal = groupRefusal(ctx.config.groups ?? DEFAULT_GROUPS, message.conversation, message.group);
  if (refusal !== undefined) return { kind: "ignored", reason: refusal };
  const result = await runOnce(
    ctx.state.kv,
    `in:${ctx.channel}:${message.dedupKey}`,
    { leaseSeconds: LEASE_SECONDS, keepSeconds: ctx.dedupKeepSeconds },
    async (): Promise<InboundOutcome> => {
      const instance = routeInstance(ctx.config, {
        workspace: message.workspace,
        conversation: message.conversation,
        sender: message.sender.id,
      });
      if (instance === undefined) return { kind: "ignored", reason: "no_route" };
      const decision = await decideAccess(
        accessFor(ctx.config, instance),
        ctx.state.identities,
        instance,
        message.sender,
      );
      if (decision.kind === "ignored") return { kind: "ignored", reason: decision.reason };
      if (decision.kind === "pairing") {
        const text = pairingMessage(decision.pairing);
        await sendPairing?.(text);
        return { kind: "pairing", instance, text };
      }
      const event = messageReceivedEvent(ctx, message, instance, decision.identity);
      await ctx.sink.emit(event);
      return { kind: "emitted", instance, eventId: event.attributes.id! };
    },
  );
  return result.fresh ? result.value : { kind: "duplicate" };
}

const DEFAULT_GROUPS = ChannelGroups.parse({});

function messageReceivedEvent(
  ctx: Pick<InboundContext, "channel" | "source" | "now">,
  message: InboundMessage,
  instance: string,
  sender: Identity,
): CloudEvent {
  const parsed = parseChatText(message.text);
  const data: MessageReceived = {
    instance,
    channel: ctx.channel,
    messageId: message.messageId,
    conversation: message.conversation,
    ...(message.thread !== undefined ? { thread: message.thread } : {}),
    sender,
    text: parsed.command !== undefined ? parsed.text : message.text,
    attachments: message.attachments ?? [],
    ...(parsed.command !== undefined ? { command: parsed.command } : {}),
    replyTo: message.replyTo,
    receivedAt: (ctx.now?.() ?? new Date()).toISOString(),
  };
  return makeEvent(T.MESSAGE_RECEIVED, {
    source: ctx.source,
    // Deterministic: a platform retry that slips past de-duplication re-emits the same id, which consumers absorb.
    id: derivedEventId(ctx.channel, "message", message.dedupKey),
    data,
  });
}

export interface ButtonPress {
  /** The platform's unique id of this press (interaction id, callback query id, message id). */
  dedupKey: string;
  /** What the pressed button carried (`callback_data`, `action_id`, `custom_id`, reply id). */
  data: string;
  presser: Identity;
  conversation: string;
  thread?: string;
  replyTo: ReplyRoute;
  /** Where the presser alone can be answered later, when that differs from replyTo (Discord: their own interaction). */
  presserRoute?: ReplyRoute;
}

type ApprovalAction = Extract<ButtonAction, { kind: "approval" }>;

export type PressOutcome =
  /** Sent to the agent: acknowledge as received; the chat changes only when the agent's verdict arrives. */
  | { kind: "decided"; action: ApprovalAction; decidedBy: Identity; eventId: string }
  /** Not sent: the presser may not decide this approval, or it is closed. Tell only them `text`. */
  | { kind: "turned_away"; action: ApprovalAction; reason: "not_approver" | "closed"; text: string }
  | { kind: "replied"; action: Extract<ButtonAction, { kind: "reply" }>; eventId: string }
  | { kind: "duplicate" }
  | { kind: "ignored"; reason: "unknown_button" | "wrong_conversation" | "denied" | "not_allowed" | "no_route" };

/**
 * A button press: an approval decision becomes approval.decided carrying the presser's identity as this adapter
 * authenticated it (the agent checks again that the presser may approve and that the digest matches), unless the
 * adapter can already tell the presser is not an approver or the approval is closed; any other button is a reply, as
 * if typed.
 */
export async function receivePress(ctx: InboundContext, press: ButtonPress): Promise<PressOutcome> {
  const result = await runOnce(
    ctx.state.kv,
    `press:${ctx.channel}:${press.dedupKey}`,
    { leaseSeconds: LEASE_SECONDS, keepSeconds: ctx.dedupKeepSeconds },
    async (): Promise<PressOutcome> => {
      const action = await resolveButton(ctx.state.kv, press.data);
      if (action === undefined) return { kind: "ignored", reason: "unknown_button" };
      if (action.conversation !== press.conversation) return { kind: "ignored", reason: "wrong_conversation" };
      // A presser must be allowed to talk to the instance (the agent then checks they may approve); presses never
      // start a pairing: an unknown presser simply is not heard.
      const access = accessFor(ctx.config, action.instance);
      const decision = await decideAccess(access, ctx.state.identities, action.instance, press.presser, {
        offerPairing: false,
      });
      if (decision.kind !== "allowed")
        return { kind: "ignored", reason: decision.kind === "ignored" ? decision.reason : "not_allowed" };
      if (action.kind === "approval") {
        const now = (ctx.now?.() ?? new Date()).getTime();
        const gate = await pressGate(ctx.state.kv, action.approvalId, decision.identity, now);
        if (gate.kind === "not_approver") {
          const { workspace, id } = decision.identity;
          const presser = `${ctx.channel}:${workspace !== undefined ? `${workspace}/` : ""}${id}`;
          ctx.log.warn(
            { approvalId: action.approvalId, runId: action.runId, presser },
            "approval press turned away: the presser may not approve this call",
          );
          return { kind: "turned_away", action, reason: gate.kind, text: NOT_AN_APPROVER };
        }
        if (gate.kind === "closed")
          return { kind: "turned_away", action, reason: gate.kind, text: closedText(gate.verdict) };
        // Before the emit: the agent's refusal may come back before this returns, and must find where to answer.
        await rememberPresser(ctx.state.kv, gate.approval, decision.identity, press.presserRoute ?? press.replyTo);
        const event = makeEvent(T.APPROVAL_DECIDED, {
          source: ctx.source,
          id: derivedEventId(ctx.channel, "press", press.dedupKey),
          data: {
            approvalId: action.approvalId,
            runId: action.runId,
            callId: action.callId,
            instance: action.instance,
            digest: action.digest,
            decision: action.decision,
            decidedBy: decision.identity,
          },
        });
        await ctx.sink.emit(event);
        return { kind: "decided", action, decidedBy: decision.identity, eventId: event.attributes.id! };
      }
      const event = messageReceivedEvent(
        ctx,
        {
          dedupKey: `press:${press.dedupKey}`,
          messageId: press.dedupKey,
          conversation: press.conversation,
          ...(press.thread !== undefined ? { thread: press.thread } : {}),
          sender: decision.identity,
          text: action.buttonId,
          replyTo: press.replyTo,
        },
        action.instance,
        decision.identity,
      );
      await ctx.sink.emit(event);
      return { kind: "replied", action, eventId: event.attributes.id! };
    },
  );
  return result.fresh ? result.value : { kind: "duplicate" };
}

function closedText(verdict: Verdict): string {
  return verdict.outcome === "expired" ? "This approval has expired." : `This was already ${verdict.outcome}.`;
}
