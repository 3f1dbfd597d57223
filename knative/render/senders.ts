/**
 * Who posts to the Broker, and what each may post: the table the EventPolicies are rendered from
 * (event-policies.ts) and `knclaw validate` checks them against (knative/validate/delivery-auth.ts).
 *
 * Per event type, which senders emit it, read from the code that emits each type (ARCHITECTURE.md, "Events"). Typed
 * by the catalog's EventType, so a new event type does not compile until it says who sends it. When the catalog's
 * own producer table (eventing/catalog/producers.ts) lands, this reads it instead.
 */
import { EXT_CHANNEL, EXT_INSTANCE, EXT_SCHEDULE } from "../../eventing/catalog/attributes.ts";
import { EVENT_SCHEMAS, type EventType } from "../../eventing/catalog/events.ts";
import * as T from "../../eventing/catalog/types.ts";

export type Sender =
  /** An agent instance's function: everything a run produces. */
  | { kind: "agent"; instance: string }
  /** A channel adapter: what people do on its platform (the webhook adapter: signed requests become runs). */
  | { kind: "channel"; channel: string }
  /** The gateway: runs started over its APIs, approval decisions made there. */
  | { kind: "gateway" }
  /** The deadletter function: it replays dead letters, which may be of any type, as they were. */
  | { kind: "deadletter" }
  /** The memory service: due-time timers firing. */
  | { kind: "memory" }
  /**
   * A skill's replies: `tool.completed` is the HTTP reply to a delivery, which the broker sends on to the Broker as
   * the identity of the Trigger that delivered (knative/eventing pkg/broker/filter/filter_handler.go,
   * handleDispatchToReplyRequest): the skill function itself never posts to the Broker.
   */
  | { kind: "skill"; skill: string; external: boolean }
  /** A PingSource: a schedule's tick, sent as the PingSource's own OIDC identity. */
  | { kind: "ping"; instance: string; schedule: string };

const isChat = (s: Sender) => s.kind === "channel" && s.channel !== "webhook";

const EMITTED_BY: Record<EventType, (sender: Sender) => boolean> = {
  [T.MESSAGE_RECEIVED]: isChat,
  [T.RUN_REQUESTED]: (s) => s.kind === "gateway" || (s.kind === "channel" && s.channel === "webhook"),
  [T.PING]: (s) => s.kind === "ping",
  [T.TOOL_REQUESTED]: (s) => s.kind === "agent",
  [T.TOOL_COMPLETED]: (s) => s.kind === "skill",
  [T.APPROVAL_REQUESTED]: (s) => s.kind === "agent",
  [T.APPROVAL_DECIDED]: (s) => s.kind === "gateway" || isChat(s),
  [T.APPROVAL_RESOLVED]: (s) => s.kind === "agent",
  [T.MESSAGE_SEND]: (s) => s.kind === "agent",
  [T.RUN_COMPLETED]: (s) => s.kind === "agent",
  [T.RUN_FAILED]: (s) => s.kind === "agent",
  [T.TIMER_FIRED]: (s) => s.kind === "memory",
};

/** Every type on the knclaw Broker, in the catalog's order. */
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

/** The event types a sender emits. */
export function senderTypes(sender: Sender): EventType[] {
  return EVENT_TYPES.filter((type) => sender.kind === "deadletter" || EMITTED_BY[type](sender));
}

/** The CloudEvents `source` every event of the sender carries (a replayed dead letter keeps its producer's). */
export function senderSource(sender: Sender): string | undefined {
  switch (sender.kind) {
    case "agent":
      return `/knclaw/agents/${sender.instance}`;
    case "channel":
      return `/knclaw/channels/${sender.channel}`;
    case "gateway":
      return "/knclaw/gateway";
    case "memory":
      return "/knclaw/memory";
    case "skill":
      // An external skill names its own source.
      return sender.external ? undefined : `/knclaw/skills/${sender.skill}`;
    default:
      return undefined;
  }
}

/**
 * Attributes that bind a sender's events to the sender, beyond their type: an agent's events name its instance, a
 * chat adapter's messages its channel, a schedule's ticks its instance and schedule. `type` is undefined for the
 * attributes every type of the sender carries.
 */
export function senderBinding(sender: Sender, type?: EventType): Record<string, string> {
  const binding: Record<string, string> = {};
  const source = senderSource(sender);
  if (type === undefined && source !== undefined) binding.source = source;
  if (sender.kind === "agent" && type === undefined) binding[EXT_INSTANCE] = sender.instance;
  if (sender.kind === "ping" && type === undefined) {
    binding[EXT_INSTANCE] = sender.instance;
    binding[EXT_SCHEDULE] = sender.schedule;
  }
  if (sender.kind === "channel" && type === T.MESSAGE_RECEIVED) binding[EXT_CHANNEL] = sender.channel;
  return binding;
}

/** How problems and policy names call a sender. */
export function senderName(sender: Sender): string {
  switch (sender.kind) {
    case "agent":
      return `agent ${sender.instance}`;
    case "channel":
      return `channel adapter ${sender.channel}`;
    case "skill":
      return `skill ${sender.skill}'s replies`;
    case "ping":
      return `schedule ${sender.schedule} of ${sender.instance}`;
    default:
      return sender.kind;
  }
}
