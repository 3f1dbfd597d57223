import { knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import type { DeliveryPolicy } from "../delivery/delivery-policy.ts";
import { compileTriggerFilter } from "../filters/trigger-filter.ts";
import { type EventFilter, FilterError } from "../filters/types.ts";
import { effectiveDelivery, readDeliverySpec } from "./delivery-spec.ts";
import { destinationAudience, resolveDestination } from "./destination.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf, ObjectError } from "./objects.ts";

/** A Trigger ready to route: filter compiled, subscriber resolved, delivery settled. */
export interface CompiledTrigger {
  namespace: string;
  name: string;
  broker: string;
  /** The Broker's namespace: the Trigger's own, or `spec.brokerRef.namespace` (cross-namespace event links). */
  brokerNamespace: string;
  filter: EventFilter;
  subscriber: string;
  /** The subscriber's OIDC audience (destination.ts); deliveries carry a token for it when there is one. */
  subscriberAudience?: string;
  /**
   * Who the broker delivers this Trigger's events (and sends its subscriber's replies) as: the Trigger's OIDC
   * ServiceAccount, `system:serviceaccount:<namespace>:<trigger>-oidc-eventing.knative.dev-trigger`
   * (pkg/broker/filter/filter_handler.go, send; pkg/reconciler/broker/trigger/trigger.go).
   */
  identity: string;
  delivery: DeliveryPolicy;
}

const SPEC_FIELDS = new Set(["broker", "filter", "filters", "subscriber", "delivery", "brokerRef"]);

/** Read the parts of a Trigger that do not depend on its Broker; the Broker's delivery is applied by `bindTrigger`. */
export interface ParsedTrigger extends Omit<CompiledTrigger, "delivery"> {
  ownDelivery?: DeliveryPolicy;
}

export function parseTrigger(object: KnativeObject): ParsedTrigger {
  const name = describeObject(object);
  const namespace = namespaceOf(object);
  const spec = object.spec;
  if (!isRecord(spec)) throw new ObjectError(name, "spec", "required", "a Trigger needs a spec");
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(key)) throw new ObjectError(name, `spec.${key}`, "unknown-field", "not a Trigger spec field");
  }
  const broker = readBroker(spec, namespace, name);
  if (spec.subscriber === undefined)
    throw new ObjectError(name, "spec.subscriber", "required", "a Trigger needs a subscriber");
  let filter: EventFilter;
  try {
    filter = compileTriggerFilter({ filter: spec.filter as never, filters: spec.filters });
  } catch (error) {
    if (error instanceof FilterError) {
      throw new ObjectError(name, error.path, error.rule, error.reason);
    }
    throw error;
  }
  const parsed: ParsedTrigger = {
    namespace,
    name: object.metadata.name,
    broker: broker.name,
    brokerNamespace: broker.namespace,
    filter,
    subscriber: resolveDestination(spec.subscriber, namespace, name, "spec.subscriber"),
    identity: serviceAccountSubject(
      namespace,
      knativeOidcServiceAccount({ group: "eventing.knative.dev", kind: "Trigger", name: object.metadata.name }),
    ),
  };
  const audience = destinationAudience(spec.subscriber, namespace, name, "spec.subscriber");
  if (audience !== undefined) parsed.subscriberAudience = audience;
  if (spec.delivery !== undefined && spec.delivery !== null) {
    parsed.ownDelivery = readDeliverySpec(spec.delivery, namespace, name, "spec.delivery");
  }
  return parsed;
}

/**
 * The Broker a Trigger subscribes to: `spec.broker` in its own namespace, or `spec.brokerRef` (its namespace
 * defaulting to the Trigger's). Whether a brokerRef may be read at all (Knative's cross-namespace-event-links
 * feature) is decided before, by the Trigger's readiness (cli/dev/readiness.ts).
 */
function readBroker(
  spec: Record<string, unknown>,
  namespace: string,
  name: string,
): { name: string; namespace: string } {
  const ref = spec.brokerRef;
  if (isRecord(ref) && typeof ref.name === "string" && ref.name !== "") {
    const ns = typeof ref.namespace === "string" && ref.namespace !== "" ? ref.namespace : namespace;
    return { name: ref.name, namespace: ns };
  }
  if (typeof spec.broker !== "string" || spec.broker === "") {
    throw new ObjectError(name, "spec.broker", "required", "names the Broker the Trigger subscribes to");
  }
  return { name: spec.broker, namespace };
}

/**
 * How a Broker names a Trigger in its delivery journal: its name, prefixed by its namespace when it subscribes from
 * another one (no two Triggers of one namespace share a name; '/' is in no Kubernetes name). A Trigger of the
 * Broker's own namespace keeps the key journals stored before cross-namespace Triggers existed.
 */
export function triggerKey(trigger: Pick<CompiledTrigger, "name" | "namespace" | "brokerNamespace">): string {
  return trigger.namespace === trigger.brokerNamespace ? trigger.name : `${trigger.namespace}/${trigger.name}`;
}

export function bindTrigger(trigger: ParsedTrigger, brokerDelivery: DeliveryPolicy | undefined): CompiledTrigger {
  const { ownDelivery, ...rest } = trigger;
  return { ...rest, delivery: effectiveDelivery(ownDelivery, brokerDelivery) };
}
