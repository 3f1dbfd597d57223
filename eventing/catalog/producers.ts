import { agentRole, channelRole, GATEWAY_ROLE, MEMORY_ROLE, OPERATOR_ROLE, skillRole } from "../trust/roles.ts";
import type { EventType } from "./events.ts";
import * as T from "./types.ts";

/**
 * Who may emit each event type, and how the signer's role binds to the event's data (ARCHITECTURE.md, "Signed
 * events"): a consumer acts on an event only when a role this rule allows for that very data signed it. So an agent
 * cannot speak for another instance, a skill cannot answer for another skill, and a channel adapter cannot decide an
 * approval in the name of another channel's user.
 *
 * `allowed(data)` gets the event's data as parsed JSON, not yet checked against the type's schema (the consumer does
 * that next): it reads fields defensively and allows nobody when a field it binds to is missing.
 */
export interface ProducerRule {
  /** The roles that may sign this event, given its data. */
  allowed(data: Record<string, unknown>): readonly string[];
  /** The rule in words, for the docs and the refusal message. */
  readonly summary: string;
}

/** Events no knclaw producer signs: who may send them is decided by delivery identity alone. */
export interface UnsignedRule {
  readonly unsigned: string;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const field = (data: Record<string, unknown>, name: string): Record<string, unknown> => {
  const value = data[name];
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
};

const ofInstance: ProducerRule = {
  allowed: (data) => (text(data.instance) ? [agentRole(text(data.instance)!)] : []),
  summary: "agent/<data.instance>",
};

/** Roles that start runs: the gateway (its API, MCP, chat completions) and the signed-webhook adapter. */
const RUN_STARTERS = [GATEWAY_ROLE, channelRole("webhook")];

export const PRODUCER_RULES: Readonly<Record<EventType, ProducerRule | UnsignedRule>> = {
  [T.MESSAGE_RECEIVED]: {
    allowed: (data) => (text(data.channel) ? [channelRole(text(data.channel)!)] : []),
    summary: "channel/<data.channel>",
  },
  [T.RUN_REQUESTED]: {
    // Who asked must be of the starter's own channel: the webhook adapter cannot start a run as an API caller. The
    // operator (`knclaw send --sign`) only starts runs that name no requester and no session: such a run's held calls
    // can be approved only by the approvers its policy names, and it reads and writes no one's conversation.
    allowed: (data) => {
      if (data.requestedBy === undefined)
        return data.sessionKey === undefined ? [...RUN_STARTERS, OPERATOR_ROLE] : RUN_STARTERS;
      const asked = text(field(data, "requestedBy").channel);
      return asked === undefined ? [] : RUN_STARTERS.filter((role) => role === channelRole(asked));
    },
    summary:
      "gateway or channel/webhook, of the channel of data.requestedBy; operator when there is neither requestedBy nor sessionKey",
  },
  [T.PING]: {
    unsigned:
      "a PingSource's tick: Knative cannot sign it, so only delivery identity (EventPolicy) authenticates it, and the agent acts on a tick only for a schedule it is configured with, taking the task from its own configuration",
  },
  [T.TOOL_REQUESTED]: ofInstance,
  [T.TOOL_COMPLETED]: {
    // The agent also checks that the call was sent to this skill with the argument digest the reply carries.
    allowed: (data) => (text(data.skill) ? [skillRole(text(data.skill)!)] : []),
    summary: "skill/<data.skill>, for a call the agent sent to that skill with data.digest",
  },
  [T.APPROVAL_REQUESTED]: ofInstance,
  [T.APPROVAL_DECIDED]: {
    // The adapter that authenticated the person: the gateway for its API callers, a chat's adapter for its users.
    allowed: (data) => {
      const channel = text(field(data, "decidedBy").channel);
      return channel === undefined ? [] : [channelRole(channel)];
    },
    summary: "the adapter of data.decidedBy.channel (gateway for http, else channel/<type>)",
  },
  [T.APPROVAL_RESOLVED]: ofInstance,
  [T.MESSAGE_SEND]: ofInstance,
  [T.RUN_COMPLETED]: ofInstance,
  [T.RUN_FAILED]: ofInstance,
  // The memory service keeps the due-time timers and fires them (functions/memory/timers/).
  [T.TIMER_FIRED]: { allowed: () => [MEMORY_ROLE], summary: "memory" },
};

export function isUnsignedRule(rule: ProducerRule | UnsignedRule): rule is UnsignedRule {
  return "unsigned" in rule;
}
