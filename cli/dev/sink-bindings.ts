import type { BrokerSpec } from "../../eventing/broker/broker-spec.ts";
import { brokerIngressUrl, destinationAudience, resolveDestination } from "../../eventing/broker/destination.ts";
import {
  describeObject,
  isRecord,
  type KnativeObject,
  namespaceOf,
  ObjectError,
} from "../../eventing/broker/objects.ts";

export interface SinkFor {
  /** The sink's (cluster) URL: K_SINK. */
  url: string;
  /** K_CE_OVERRIDES, JSON `{"extensions": {...}}`. */
  ceOverrides?: string;
  /** The sink's OIDC audience: what a sender's identity token must be issued for. */
  audience?: string;
}

/**
 * K_SINK and K_CE_OVERRIDES as SinkBindings inject them (subject by name or label selector). A ksvc no binding
 * targets still gets its namespace's Broker when there is exactly one, so a function can emit out of the box.
 */
export function sinkBindingResolver(
  bindings: KnativeObject[],
  brokers: BrokerSpec[],
): (service: KnativeObject) => SinkFor | undefined {
  const compiled = bindings.map((binding) => {
    const id = describeObject(binding);
    const namespace = namespaceOf(binding);
    const spec = binding.spec;
    if (!isRecord(spec) || !isRecord(spec.subject)) {
      throw new ObjectError(id, "spec.subject", "required", "a SinkBinding needs a subject");
    }
    const sink = resolveDestination(spec.sink, namespace, id, "spec.sink");
    const audience = destinationAudience(spec.sink, namespace, id, "spec.sink");
    const ceOverrides = isRecord(spec.ceOverrides)
      ? JSON.stringify({ extensions: spec.ceOverrides.extensions ?? {} })
      : undefined;
    return { namespace, subject: spec.subject, sink, ceOverrides, audience };
  });
  return (service) => {
    const namespace = namespaceOf(service);
    const labels = service.metadata.labels ?? {};
    for (const binding of compiled) {
      const subject = binding.subject;
      if ((typeof subject.namespace === "string" ? subject.namespace : binding.namespace) !== namespace) continue;
      if (subject.kind !== "Service" || subject.apiVersion !== "serving.knative.dev/v1") continue;
      const byName = typeof subject.name === "string" && subject.name === service.metadata.name;
      const selector =
        isRecord(subject.selector) && isRecord(subject.selector.matchLabels) ? subject.selector.matchLabels : undefined;
      const bySelector =
        selector !== undefined && Object.entries(selector).every(([key, value]) => labels[key] === value);
      if (byName || bySelector)
        return { url: binding.sink, ceOverrides: binding.ceOverrides, audience: binding.audience };
    }
    const local = brokers.filter((broker) => broker.namespace === namespace);
    if (local.length !== 1) return undefined;
    const broker = { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: local[0]!.name };
    return {
      url: brokerIngressUrl(namespace, broker.name),
      audience: destinationAudience({ ref: broker }, namespace, "", ""),
    };
  };
}
