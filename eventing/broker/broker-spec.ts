import type { DeliveryPolicy } from "../delivery/delivery-policy.ts";
import { readDeliverySpec } from "./delivery-spec.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf, ObjectError } from "./objects.ts";

/** A Broker as the embedded broker needs it: where it lives and its own delivery (inherited by its Triggers). */
export interface BrokerSpec {
  namespace: string;
  name: string;
  delivery?: DeliveryPolicy;
}

/** Read a Broker (eventing.knative.dev/v1); `spec.config` (the channel template) means nothing locally. */
export function readBrokerSpec(object: KnativeObject): BrokerSpec {
  const id = describeObject(object);
  const namespace = namespaceOf(object);
  const spec: BrokerSpec = { namespace, name: object.metadata.name };
  if (object.spec === undefined || object.spec === null) return spec;
  if (!isRecord(object.spec)) throw new ObjectError(id, "spec", "broker-spec", "must be an object");
  for (const key of Object.keys(object.spec)) {
    if (key !== "config" && key !== "delivery") {
      throw new ObjectError(id, `spec.${key}`, "unknown-field", "not a Broker spec field");
    }
  }
  if (object.spec.delivery !== undefined && object.spec.delivery !== null) {
    spec.delivery = readDeliverySpec(object.spec.delivery, namespace, id, "spec.delivery");
  }
  return spec;
}
