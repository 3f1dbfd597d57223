/**
 * Who posts to the Broker, and what each may post: what the EventPolicies are rendered from (event-policies.ts) and
 * `knclaw validate` checks them against (knative/validate/delivery-auth.ts). The event types come from the catalog's
 * producer rules (eventing/catalog/producers.ts), the same that decide whose signature a consumer accepts, so the
 * Broker admits from each sender exactly what its signature may cover.
 */
import { EXT_CHANNEL, EXT_INSTANCE, EXT_SCHEDULE } from "../../eventing/catalog/attributes.ts";
import { EVENT_SCHEMAS, type EventType } from "../../eventing/catalog/events.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../../eventing/catalog/producers.ts";
import * as T from "../../eventing/catalog/types.ts";
import { agentRole, channelRole, GATEWAY_ROLE, MEMORY_ROLE, skillRole } from "../../eventing/trust/roles.ts";

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

/** Every type on the knclaw Broker, in the catalog's order. */
export const EVENT_TYPES = Object.keys(EVENT_SCHEMAS) as EventType[];

/** The event types a sender emits. */
export function senderTypes(sender: Sender): EventType[] {
  if (sender.kind === "deadletter") return EVENT_TYPES;
  const producer = asProducer(sender);
  return EVENT_TYPES.filter((type) => {
    const rule = PRODUCER_RULES[type];
    // What no producer signs (a PingSource's tick) only its source sends.
    if (isUnsignedRule(rule)) return sender.kind === "ping";
    return producer !== undefined && rule.allowed(producer.data).includes(producer.role);
  });
}

/**
 * The producer role a sender signs as, with data naming it where the rules bind a role to the data (its instance,
 * channel, skill, the channel of who asked or decided), to ask each type's rule whether that role may emit it.
 */
function asProducer(sender: Sender): { role: string; data: Record<string, unknown> } | undefined {
  switch (sender.kind) {
    case "agent":
      return { role: agentRole(sender.instance), data: { instance: sender.instance } };
    case "channel": {
      const own = { channel: sender.channel };
      return { role: channelRole(sender.channel), data: { ...own, requestedBy: own, decidedBy: own } };
    }
    case "gateway": {
      const http = { channel: "http" };
      return { role: GATEWAY_ROLE, data: { requestedBy: http, decidedBy: http } };
    }
    case "skill":
      return { role: skillRole(sender.skill), data: { skill: sender.skill } };
    case "memory":
      return { role: MEMORY_ROLE, data: {} };
    default:
      return undefined;
  }
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
