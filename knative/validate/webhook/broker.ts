/**
 * Broker (pkg/apis/eventing/v1/broker_validation.go): `spec.config` a valid KReference and `spec.delivery` a valid
 * DeliverySpec. Both may name another namespace: Broker.Validate allows it unless config-br-defaults sets
 * disallow-different-namespace (determineNamespaceAllowance), which knclaw does not model.
 */
import type { WebhookOptions } from "../options.ts";
import { isObject, type Json, type ProblemSink } from "../problems.ts";
import { validateDelivery } from "./delivery.ts";
import { validateKReference } from "./destination.ts";

export function validateBroker(object: Json, sink: ProblemSink, options: WebhookOptions): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const spec = isObject(object.spec) ? object.spec : {};
  if (spec.config !== undefined) validateKReference(spec.config, "spec.config", sink);
  validateDelivery(spec.delivery, "spec.delivery", sink, options);
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  const cls = annotations["eventing.knative.dev/broker.class"];
  if (cls !== undefined && (typeof cls !== "string" || cls === "")) {
    sink.error("metadata.annotations[eventing.knative.dev/broker.class]", "broker-class", "must be a non-empty string");
  }
}
