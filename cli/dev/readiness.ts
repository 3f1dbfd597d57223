import { describeObject, isRecord, type KnativeObject, namespaceOf } from "../../eventing/broker/objects.ts";
import type { DevObjects } from "./objects.ts";
import type { ServiceCommands, ServiceMap } from "./service-map.ts";

/**
 * Which objects are Ready under knclaw dev, as Knative's reconcilers decide it on a cluster: an object the webhook
 * admitted whose references do not resolve is kept, marked not Ready with the condition Knative would set, and does
 * nothing (Knative creates no Subscription for such a Trigger and schedules no tick for such a PingSource). A
 * reference resolves here when its target runs here: a Broker that is Ready, a Knative (or Kubernetes) Service that
 * knclaw dev runs (`knclaw.dev/entry`) or that `--service` maps to a local URL. A Service that exists in the manifests
 * but does not run here resolves on a cluster and not here; the message says how to map it.
 */
export interface NotReadyObject {
  /** `Trigger default/my-service-trigger`. */
  object: string;
  kind: string;
  namespace: string;
  name: string;
  /** The condition that is False, by Knative's name (BrokerReady, SubscriberResolved, SinkProvided, ...). */
  condition: string;
  /** Knative's reason for it (BrokerDoesNotExist, NotFound, ...). */
  reason: string;
  message: string;
  /**
   * Whether it acts all the same: a Trigger whose only failing condition is DependencyReady is subscribed (Knative
   * checks the dependency after making the Subscription), so it gets its events while not Ready; a Broker whose
   * dead-letter sink does not resolve takes events (which reach no Trigger).
   */
  acting: boolean;
}

export interface ReadinessOptions {
  services: ServiceMap;
  /** `--run`: Services started from a local command. */
  commands: ServiceCommands;
  /** Eventing's cross-namespace-event-links feature: whether a Trigger's `spec.brokerRef` is read. */
  crossNamespaceEventLinks: boolean;
}

const ENTRY_ANNOTATION = "knclaw.dev/entry";

/** The objects split into those that act and those that are not Ready, with why. */
export function checkReadiness(
  objects: DevObjects,
  options: ReadinessOptions,
): { ready: DevObjects; notReady: NotReadyObject[] } {
  const notReady: NotReadyObject[] = [];
  const fail = (object: KnativeObject, condition: string, reason: string, message: string, acting = false) => {
    notReady.push({
      acting,
      object: describeObject(object),
      kind: object.kind,
      namespace: namespaceOf(object),
      name: object.metadata.name,
      condition,
      reason,
      message,
    });
  };
  const runningServices = new Set(
    objects.services
      .filter(
        (service) =>
          typeof service.metadata.annotations?.[ENTRY_ANNOTATION] === "string" ||
          options.commands.lookup(namespaceOf(service), service.metadata.name) !== undefined,
      )
      .map((service) => `${namespaceOf(service)}/${service.metadata.name}`),
  );
  // Knative Services, and Kubernetes Services (listed as not run): both are the same cluster address.
  const declaredServices = new Set(
    [...objects.services, ...objects.ignored.filter((o) => o.apiVersion === "v1" && o.kind === "Service")].map(
      (service) => `${namespaceOf(service)}/${service.metadata.name}`,
    ),
  );
  const allBrokers = new Set(objects.brokers.map((broker) => `${namespaceOf(broker)}/${broker.metadata.name}`));
  const readyBrokers = new Set<string>();

  // Why a Destination does not resolve here, or undefined when it does (its fields were checked by the webhook rules).
  const unresolved = (destination: unknown, namespace: string): string | undefined => {
    if (!isRecord(destination) || !isRecord(destination.ref)) return undefined;
    const ref = destination.ref;
    const kind = String(ref.kind);
    const name = String(ref.name);
    const apiVersion = String(ref.apiVersion);
    const ns = typeof ref.namespace === "string" && ref.namespace !== "" ? ref.namespace : namespace;
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
    const key = `${ns}/${name}`;
    if (group === "eventing.knative.dev" && kind === "Broker") {
      if (readyBrokers.has(key)) return undefined;
      return allBrokers.has(key)
        ? `Broker ${key} is not Ready`
        : `brokers.eventing.knative.dev ${JSON.stringify(name)} not found in namespace ${ns}`;
    }
    if (kind === "Service" && (group === "serving.knative.dev" || apiVersion === "v1")) {
      if (runningServices.has(key) || options.services.lookup(ns, name) !== undefined) return undefined;
      if (declaredServices.has(key)) {
        return `Service ${key} is not run by knclaw dev: start it with --run ${name}=COMMAND (a Knative Service), or give its local URL with --service ${name}=URL`;
      }
      const resource = group === "" ? "services" : "services.serving.knative.dev";
      return `${resource} ${JSON.stringify(name)} not found in namespace ${ns}: define it, or give its local URL with --service ${name}=URL`;
    }
    return `${kind} (${apiVersion}) ${key} is not run by knclaw dev, which addresses Brokers, Knative Services and Kubernetes Services: use uri, or --service for a Service`;
  };

  // Brokers first: a Trigger's readiness follows its Broker's (PropagateBrokerCondition).
  // A Broker whose dead-letter sink does not resolve is not Ready, but on a cluster its ingress still takes events
  // (Knative's reconciler records the channel address before it resolves the sink): they reach no Trigger, since no
  // Trigger of a Broker that is not Ready is subscribed. So it is served with its delivery settings dropped (no
  // Trigger will use them) and is not Ready as a reference: a Destination naming it does not resolve (no address).
  const brokers = objects.brokers.map((broker) => {
    const why = unresolved(deliveryOf(broker.spec)?.deadLetterSink, namespaceOf(broker));
    if (why === undefined) {
      readyBrokers.add(`${namespaceOf(broker)}/${broker.metadata.name}`);
      return broker;
    }
    fail(broker, "DeadLetterSinkResolved", "Unable to get the DeadLetterSink's URI", why, true);
    const { delivery: _unused, ...spec } = isRecord(broker.spec) ? broker.spec : {};
    return { ...broker, spec };
  });
  // A dead-letter sink that is itself a Broker resolves only if that Broker came earlier: one pass in order covers
  // every shape but a chain of Brokers dead-lettering into each other, which no example needs.

  const withSink = (object: KnativeObject) => {
    const why = unresolved(isRecord(object.spec) ? object.spec.sink : undefined, namespaceOf(object));
    if (why === undefined) return true;
    fail(object, "SinkProvided", "NotFound", why);
    return false;
  };
  const pingSources = objects.pingSources.filter(withSink);
  const sinkBindings = objects.sinkBindings.filter(withSink);

  const notReadyNames = new Set(notReady.map((o) => `${o.kind}/${o.namespace}/${o.name}`));
  const dependencyProblem = dependencyCheck(objects, notReadyNames);

  const triggers = objects.triggers.filter((trigger) => {
    const namespace = namespaceOf(trigger);
    const spec = isRecord(trigger.spec) ? trigger.spec : {};
    const broker = brokerOf(spec, namespace, options.crossNamespaceEventLinks);
    if (!readyBrokers.has(`${broker.namespace}/${broker.name}`)) {
      const exists = allBrokers.has(`${broker.namespace}/${broker.name}`);
      fail(
        trigger,
        "BrokerReady",
        exists ? "BrokerNotReady" : "BrokerDoesNotExist",
        `${exists ? `Broker ${JSON.stringify(broker.name)} is not Ready` : `Broker ${JSON.stringify(broker.name)} does not exist`}${broker.note}`,
      );
      return false;
    }
    const subscriber = unresolved(spec.subscriber, namespace);
    if (subscriber !== undefined) {
      fail(trigger, "SubscriberResolved", "Unable to get the Subscriber's URI", subscriber);
      return false;
    }
    const deadLetter = unresolved(deliveryOf(spec)?.deadLetterSink, namespace);
    if (deadLetter !== undefined) {
      fail(trigger, "DeadLetterSinkResolved", "Unable to get the dead letter sink's URI", deadLetter);
      return false;
    }
    const dependency = dependencyProblem(trigger);
    if (dependency !== undefined) fail(trigger, "DependencyReady", dependency.reason, dependency.message, true);
    return true;
  });

  return { ready: { ...objects, brokers, triggers, pingSources, sinkBindings }, notReady };
}

const DEPENDENCY_ANNOTATION = "knative.dev/dependency";

/**
 * A Trigger's `knative.dev/dependency` (an object reference in its namespace; the webhook checked its shape), as
 * Knative's Trigger reconciler reads it (propagateDependencyReadiness): DependencyDoesNotExist when no such object is
 * among the objects, DependencyNotReady when it is not Ready here, and Unknown for a kind knclaw dev does not run.
 */
function dependencyCheck(
  objects: DevObjects,
  notReady: ReadonlySet<string>,
): (trigger: KnativeObject) => { reason: string; message: string } | undefined {
  const all = [
    ...objects.brokers,
    ...objects.triggers,
    ...objects.pingSources,
    ...objects.sinkBindings,
    ...objects.services,
    ...objects.ignored,
  ];
  const run = new Set([...objects.pingSources, ...objects.sinkBindings, ...objects.triggers, ...objects.brokers]);
  return (trigger) => {
    const text = trigger.metadata.annotations?.[DEPENDENCY_ANNOTATION];
    if (text === undefined) return undefined;
    let ref: unknown;
    try {
      ref = JSON.parse(text);
    } catch {
      return undefined; // the webhook refused it already
    }
    if (!isRecord(ref) || typeof ref.kind !== "string" || typeof ref.name !== "string") return undefined;
    const namespace = namespaceOf(trigger);
    const target = all.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        namespaceOf(o) === namespace &&
        o.apiVersion === ref.apiVersion,
    );
    const id = `${ref.kind} ${namespace}/${ref.name}`;
    if (target === undefined)
      return { reason: "DependencyDoesNotExist", message: `Dependency does not exist: ${id} not found` };
    if (!run.has(target))
      return { reason: "DependencyUnknown", message: `${id} is not run by knclaw dev: its readiness is unknown` };
    if (notReady.has(`${ref.kind}/${namespace}/${ref.name}`))
      return { reason: "DependencyNotReady", message: `${id} is not Ready` };
    return undefined;
  };
}

function deliveryOf(spec: unknown): Record<string, unknown> | undefined {
  return isRecord(spec) && isRecord(spec.delivery) ? spec.delivery : undefined;
}

/**
 * The Broker a Trigger names, as Knative's Trigger reconciler reads it: `spec.brokerRef` only with the
 * cross-namespace-event-links feature, else `spec.broker` (so without the feature a Trigger that names its Broker by
 * brokerRef alone looks for Broker "" and is never Ready, as on a cluster). A brokerRef without a namespace means the
 * Trigger's own here; Knative would look in namespace "" and find nothing.
 */
function brokerOf(
  spec: Record<string, unknown>,
  namespace: string,
  crossNamespace: boolean,
): { name: string; namespace: string; note: string } {
  const ref = spec.brokerRef;
  if (isRecord(ref)) {
    if (crossNamespace) {
      const ns = typeof ref.namespace === "string" && ref.namespace !== "" ? ref.namespace : namespace;
      return { name: String(ref.name ?? ""), namespace: ns, note: ` in namespace ${ns}` };
    }
    return {
      name: typeof spec.broker === "string" ? spec.broker : "",
      namespace,
      note: ": spec.brokerRef is read only with the cross-namespace-event-links feature (use spec.broker)",
    };
  }
  return { name: typeof spec.broker === "string" ? spec.broker : "", namespace, note: "" };
}
