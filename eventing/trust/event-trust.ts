import { ApiError } from "../../runtime/api-error.ts";
import type { Logger } from "../../runtime/log.ts";
import { EXT_CHANNEL, EXT_INSTANCE, EXT_RUN, EXT_SKILL, EXT_TARGET } from "../catalog/attributes.ts";
import type { EventType } from "../catalog/events.ts";
import { routingExtensions } from "../catalog/make.ts";
import { isUnsignedRule, PRODUCER_RULES } from "../catalog/producers.ts";
import { type CloudEvent, dataAsJson } from "../cloudevent/event.ts";
import { type SignatureProblem, type TrustedProducers, verifyEventSignature } from "./event-signature.ts";
import { EXT_PRODUCER } from "./signing-input.ts";

/**
 * What a consumer checks before it acts on a delivered event (the function runtime's delivery route runs it through
 * eventing/cloudevent/receive.ts): a trusted signature, by a role the catalog allows for this type and this data,
 * with routing extensions that agree with the data. A refusal is a 403 (Knative never retries it, so the broker
 * dead-letters the event at once), one audit line, and nothing else: the consumer's handler never runs.
 */
export interface EventTrust {
  /** Throws EventRefused for an event the consumer must not act on. */
  check(event: CloudEvent): void;
}

export type RefusalReason =
  | SignatureProblem
  /** The type has no producer rule in the catalog: nobody may emit it. */
  | "unknown_type"
  /** A trusted signature, but the catalog does not let this role emit this event (this type, or this data). */
  | "role_not_allowed"
  /** A routing extension says something else than the data (where the event went is not what it is about). */
  | "routing_mismatch"
  /**
   * Signed by a role the catalog allows, but not for what the event answers: the consumer's own record binds it to
   * another producer or other content (a skill answering a call the agent sent to another skill, or for other
   * arguments). The consumer checks this itself and throws EventRefused with it.
   */
  | "not_bound";

export class EventRefused extends ApiError {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, message: string) {
    super(403, "event_refused", message, { details: { reason } });
    this.name = "EventRefused";
    this.reason = reason;
  }
}

const ROUTING = [EXT_INSTANCE, EXT_RUN, EXT_SKILL, EXT_CHANNEL, EXT_TARGET];

const PROBLEMS: Record<SignatureProblem, string> = {
  unsigned: "the event is not signed",
  malformed_signature: "the event's signature or producer is malformed",
  unknown_key: "the event is signed by a key not trusted for its producer",
  bad_signature: "the event's signature does not verify",
};

/** The consumer's check against the keys it trusts; every refusal is logged (type, id, producer, reason). */
export function verifyingTrust(producers: TrustedProducers, log: Logger): EventTrust {
  const refuse = (event: CloudEvent, reason: RefusalReason, message: string): never => {
    const { type, id, source } = event.attributes;
    log.warn({ event: { type, id, source }, producer: event.attributes[EXT_PRODUCER], reason }, "event refused");
    throw new EventRefused(reason, message);
  };
  return {
    check(event) {
      const type = event.attributes.type!;
      const rule = Object.hasOwn(PRODUCER_RULES, type) ? PRODUCER_RULES[type as EventType] : undefined;
      if (rule === undefined) return refuse(event, "unknown_type", `no producer may emit ${type}`);
      if (isUnsignedRule(rule)) return;
      const verdict = verifyEventSignature(event, producers);
      if (!verdict.ok) return refuse(event, verdict.problem, PROBLEMS[verdict.problem]);
      const data = objectData(event);
      if (data === undefined || !rule.allowed(data).includes(verdict.role)) {
        return refuse(event, "role_not_allowed", `${verdict.role} may not emit this ${type} (${rule.summary})`);
      }
      const expected = routingExtensions(type as EventType, data);
      for (const name of new Set([...ROUTING, ...Object.keys(expected)])) {
        if (event.attributes[name] !== expected[name]) {
          return refuse(event, "routing_mismatch", `${name} does not agree with the event's data`);
        }
      }
    },
  };
}

/**
 * The dead-letter sink's "check": none. It keeps whatever the broker could not deliver exactly as it came, signature
 * included, so that a replay is verified by its consumer like any other delivery; forged events are kept too, for
 * the operator to see. Nothing else may use it.
 */
export const KEPT_AS_DELIVERED: EventTrust = { check: () => {} };

function objectData(event: CloudEvent): Record<string, unknown> | undefined {
  try {
    const json = dataAsJson(event);
    return json !== null && typeof json === "object" && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
