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
  if (typeof spec.broker !== "string" || spec.broker === "") {
    throw new ObjectError(name, "spec.broker", "required", "names the Broker the Trigger subscribes to");
  }
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
    broker: spec.broker,
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

export function bindTrigger(trigger: ParsedTrigger, brokerDelivery: DeliveryPolicy | undefined): CompiledTrigger {
  const { ownDelivery, ...rest } = trigger;
  return { ...rest, delivery: effectiveDelivery(ownDelivery, brokerDelivery) };
}
