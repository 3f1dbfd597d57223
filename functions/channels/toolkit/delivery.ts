import type { KeyValueState } from "../../../clients/memory/key-value.ts";
import type { ApprovalRequested, MessageSend } from "../../../eventing/catalog/events.ts";
import { readEvent } from "../../../eventing/catalog/make.ts";
import type { ChannelType, Identity, ReplyRoute } from "../../../eventing/catalog/shared.ts";
import * as T from "../../../eventing/catalog/types.ts";
import { CloudEventError } from "../../../eventing/cloudevent/errors.ts";
import type { CloudEvent } from "../../../eventing/cloudevent/event.ts";
import { receiveCloudEvents } from "../../../eventing/cloudevent/receive.ts";
import type { EventTrust } from "../../../eventing/trust/event-trust.ts";
import type { Delivery } from "../../../runtime/app.ts";
import type { Logger } from "../../../runtime/log.ts";
import { attachOnce } from "./answer-file.ts";
import { recallApproval, rememberApproval, rememberPrompt } from "./approval-state.ts";
import {
  type ApprovalRecord,
  approvalActions,
  type ButtonAction,
  type RenderedButton,
  registerButtons,
} from "./buttons.ts";
import { type AnswerFile, type PartsPolicy, planAnswer } from "./long-answer.ts";
import type { PlatformRetryOptions } from "./platform-call.ts";
import { postOnce } from "./post-once.ts";
import { deliverResolution } from "./resolution.ts";

/**
 * The outbound half of every adapter: the broker delivers message.send, approval.requested and approval.resolved
 * (binary CloudEvents, routed by the `knclawchannel` Trigger filter); the adapter posts them on the platform (a
 * verdict updates the approval's prompt: resolution.ts) and answers the delivery
 * with 2xx only after the platform accepted every part, 429/503 (retried by the broker) on rate limits and outages,
 * a non-retryable 4xx for permanent errors (each PlatformError is its own answer), and 409 while another attempt is
 * posting the same part. Each part is posted at most once per idempotency key, so a
 * redelivered send resumes where it stopped instead of posting twice.
 */
export interface OutboundPost {
  route: ReplyRoute;
  text: string;
  /** Only on the last part of a split message. */
  buttons?: RenderedButton[];
  /** Stable per part across redeliveries; passed to platforms that accept one (Discord's nonce). */
  idempotencyKey: string;
  /** The part's place in the answer: the first part is the one that replies to the asking message. */
  part?: number;
}

/** The rest of a long answer, posted as a text file after its messages (long-answer.ts). */
export interface OutboundFile extends AnswerFile {
  route: ReplyRoute;
  idempotencyKey: string;
}

export interface PlatformOutbound {
  channel: ChannelType;
  /** The platform's per-message limit and how many messages one answer may take. */
  split: PartsPolicy;
  /** A lower limit for the part that carries buttons (WhatsApp's interactive body holds 1024 characters). */
  buttonTextLimit?: number;
  /** Post one message; resolve with the platform's id for it once accepted; reject with PlatformError. */
  post(post: OutboundPost): Promise<{ ref: string }>;
  /** Upload the rest of a long answer as a text file in the conversation; absent where the adapter cannot. */
  attach?(file: OutboundFile): Promise<{ ref: string }>;
  /**
   * Post a part an earlier attempt may already have posted (it died between the platform call and its record:
   * post-once.ts), without posting it twice: the earlier message when the platform has it, else a new post.
   * Undefined where the platform cannot tell for this post; absent where it never can.
   */
  postInDoubt?(post: OutboundPost, since: Date): Promise<{ ref: string } | undefined>;
  /**
   * Replace a posted message's text and remove its buttons. Absent where the platform cannot edit a message
   * (WhatsApp): an approval's verdict is then posted as a message of its own.
   */
  update?(route: ReplyRoute, ref: string, text: string): Promise<void>;
  /** Tell one person, about the conversation `route`, what only they should see (ephemeral where the platform can). */
  tell(route: ReplyRoute, person: Identity, text: string): Promise<void>;
  /** How a message names a person (Slack's and Discord's mentions); their display name or id otherwise. */
  mention?(person: Identity): string;
}

export interface DeliveryContext {
  outbound: PlatformOutbound;
  kv: KeyValueState;
  /** The adapter's check of who signed a delivery (the adapter runtime's `trust`). */
  trust: EventTrust;
  maxBodyBytes?: number;
  retry?: PlatformRetryOptions;
  /** How long a posted part is remembered: longer than the broker keeps redelivering. */
  keepSeconds?: number;
  /** Where a part posted again without a platform-side check is reported. */
  log?: Logger;
}

interface DeliveryResult {
  refs: string[];
  /** Parts this delivery posted (the rest had been posted by an earlier attempt). */
  posted: number;
  /** The last part's text: the part that carries the buttons. */
  lastText: string;
}

/** The adapter's broker deliveries (the function runtime's `POST /`). */
export function outboundDelivery(ctx: DeliveryContext): Delivery<CloudEvent> {
  return receiveCloudEvents(
    async (event) => {
      const type = event.attributes.type;
      if (type === T.MESSAGE_SEND) await deliverMessage(ctx, readEvent(event, T.MESSAGE_SEND));
      else if (type === T.APPROVAL_REQUESTED) await deliverApproval(ctx, readEvent(event, T.APPROVAL_REQUESTED));
      else if (type === T.APPROVAL_RESOLVED) {
        const resolved = readEvent(event, T.APPROVAL_RESOLVED);
        checkRoute(ctx, resolved.replyTo);
        await deliverResolution(ctx, resolved, event.attributes.id!);
      } else throw new CloudEventError(400, `this adapter does not handle ${type}`);
    },
    { maxBodyBytes: ctx.maxBodyBytes ?? 256 * 1024, trust: ctx.trust },
  );
}

async function deliverMessage(ctx: DeliveryContext, send: MessageSend): Promise<DeliveryResult> {
  checkRoute(ctx, send.route);
  let buttons: RenderedButton[] | undefined;
  if (send.buttons !== undefined && send.buttons.length > 0) {
    const approval = send.approvalId !== undefined ? await recallApproval(ctx.kv, send.approvalId) : undefined;
    buttons = await registerButtons(
      ctx.kv,
      `${ctx.outbound.channel}\u0000${send.idempotencyKey}`,
      send.buttons.map((button) => ({
        action: buttonAction(button.id, button.label, send, approval),
        label: button.label,
        ...(button.style !== undefined ? { style: button.style } : {}),
      })),
    );
  }
  return postParts(ctx, send.route, send.text, buttons, send.idempotencyKey, send.runId);
}

/** Buttons named approve / deny on a send for a known approval decide it; any other button is a reply. */
function buttonAction(
  id: string,
  label: string,
  send: MessageSend,
  approval: ApprovalRecord | undefined,
): ButtonAction {
  if (approval !== undefined && (id === "approve" || id === "deny")) {
    return approvalActions(approval, send.route.conversation).find((b) => b.action.decision === id)!.action;
  }
  return { kind: "reply", buttonId: id, label, instance: send.instance, conversation: send.route.conversation };
}

async function deliverApproval(ctx: DeliveryContext, request: ApprovalRequested): Promise<DeliveryResult> {
  checkRoute(ctx, request.replyTo);
  await rememberApproval(ctx.kv, request);
  const buttons = await registerButtons(
    ctx.kv,
    `${ctx.outbound.channel}\u0000approval\u0000${request.approvalId}`,
    approvalActions(request, request.replyTo.conversation),
  );
  const result = await postParts(
    ctx,
    request.replyTo,
    approvalPrompt(request),
    buttons,
    `approval:${request.approvalId}`,
    request.runId,
  );
  // The verdict updates the message that carries the buttons.
  await rememberPrompt(ctx.kv, request, { route: request.replyTo, ref: result.refs.at(-1)!, text: result.lastText });
  return result;
}

const MAX_ARGUMENTS_SHOWN = 1500;

/** What an approver reads: the exact call, why it needs approval, and until when. */
function approvalPrompt(request: ApprovalRequested): string {
  let args = JSON.stringify(request.arguments ?? null, null, 2);
  if (args.length > MAX_ARGUMENTS_SHOWN) args = `${args.slice(0, MAX_ARGUMENTS_SHOWN)}\n… (truncated)`;
  return [
    `Approval needed: ${request.skill}.${request.tool} (run ${request.runId})`,
    ...(request.reason !== undefined ? [`Reason: ${request.reason}`] : []),
    "Arguments:",
    args,
    `Digest: ${request.digest}`,
    `Expires: ${request.expiresAt}`,
  ].join("\n");
}

function checkRoute(ctx: DeliveryContext, route: ReplyRoute): void {
  if (route.channel !== ctx.outbound.channel) {
    throw new CloudEventError(400, `route is for channel ${route.channel}, this adapter is ${ctx.outbound.channel}`);
  }
}

async function postParts(
  ctx: DeliveryContext,
  route: ReplyRoute,
  text: string,
  buttons: RenderedButton[] | undefined,
  idempotencyKey: string,
  runId: string | undefined,
): Promise<DeliveryResult> {
  // Nothing is dropped: past the platform's part cap the rest goes as a file, or the last part says what was cut.
  const { parts, file } = planAnswer(text === "" ? " " : text, {
    policy: ctx.outbound.split,
    buttonLimit: buttons !== undefined ? ctx.outbound.buttonTextLimit : undefined,
    canAttach: ctx.outbound.attach !== undefined,
    runId,
  });
  const refs: string[] = [];
  let posted = 0;
  for (const [index, part] of parts.entries()) {
    const partKey = `${idempotencyKey}#${index}`;
    const isLast = index === parts.length - 1;
    const result = await postOnce(ctx, {
      route,
      text: part,
      idempotencyKey: partKey,
      part: index,
      ...(isLast && buttons !== undefined ? { buttons } : {}),
    });
    if (result.fresh) posted += 1;
    refs.push(result.recorded);
  }
  // After the messages; the buttons' message, which a verdict updates, stays the last message part.
  if (file !== undefined && (await attachOnce(ctx, route, file, `${idempotencyKey}#file`, runId)).fresh) posted += 1;
  return { refs, posted, lastText: parts.at(-1)! };
}
