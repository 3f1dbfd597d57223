/**
 * Trigger (knative/eventing pkg/apis/eventing/v1/trigger_validation.go): a broker name or a `brokerRef` (never both;
 * its namespace only with the cross-namespace-event-links feature), attribute names matching
 * ^[a-z][a-z0-9]*$, each `spec.filters` item holding exactly one dialect, `exact`/`prefix`/`suffix` with exactly one
 * key, nested `all`/`any`/`not` validated the same way, `cesql` a parsable expression, a valid subscriber and
 * delivery, and the dependency/injection annotations well formed.
 */
import { checkCesql } from "../cesql.ts";
import type { WebhookOptions } from "../options.ts";
import { isObject, type Json, join, type ProblemSink, str } from "../problems.ts";
import { validateDelivery } from "./delivery.ts";
import { validateDestination } from "./destination.ts";

const ATTRIBUTE_NAME = /^[a-z][a-z0-9]*$/;
const DIALECTS = ["exact", "prefix", "suffix", "all", "any", "not", "cesql"] as const;

export function validateTrigger(object: Json, sink: ProblemSink, options: WebhookOptions): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const namespace = str(meta.namespace);
  const spec = isObject(object.spec) ? object.spec : undefined;
  if (spec === undefined) {
    sink.error("spec", "required", "missing field(s): spec");
    return;
  }
  validateBrokerField(spec, sink, options);
  if (spec.filter !== undefined && spec.filter !== null) {
    if (!isObject(spec.filter)) sink.error("spec.filter", "schema", "must be an object");
    else validateAttributeNames(spec.filter.attributes, "spec.filter.attributes", sink);
  }
  if (spec.filters !== undefined && spec.filters !== null) {
    if (!Array.isArray(spec.filters)) sink.error("spec.filters", "schema", "must be a list");
    else {
      if (!options.newTriggerFilters) {
        sink.warn(
          "spec.filters",
          "trigger-filters-feature",
          "ignored unless the new-trigger-filters feature is enabled: the Trigger would match every event its spec.filter allows",
        );
      }
      if (
        spec.filters.length > 0 &&
        isObject(spec.filter) &&
        isObject(spec.filter.attributes) &&
        Object.keys(spec.filter.attributes).length > 0
      ) {
        sink.warn("spec.filter", "trigger-filter-shadowed", "spec.filter is ignored when spec.filters is set");
      }
      validateFilterList(spec.filters, "spec.filters", sink);
    }
  }
  if (spec.subscriber === undefined)
    sink.error("spec.subscriber", "destination", "expected at least one, got none: ref, uri");
  else validateDestination(spec.subscriber, "spec.subscriber", sink, namespace);
  validateDelivery(spec.delivery, "spec.delivery", sink, options, namespace);
  validateTriggerAnnotations(object, sink, str(spec.broker));
}

function validateBrokerField(spec: Json, sink: ProblemSink, options: WebhookOptions): void {
  const brokerRef = spec.brokerRef;
  const hasRef = brokerRef !== undefined && brokerRef !== null;
  if (!hasRef && !str(spec.broker)) sink.error("spec.broker", "trigger-broker", "missing field(s): broker");
  else if (hasRef && str(spec.broker))
    sink.error("spec", "trigger-broker", "expected exactly one, got both: broker, brokerRef");
  if (!hasRef) return;
  if (!isObject(brokerRef)) {
    sink.error("spec.brokerRef", "schema", "must be an object");
    return;
  }
  // TriggerSpec.Validate checks nothing else of the reference; the reconciler reads its name (and namespace).
  if (str(brokerRef.namespace) && !options.crossNamespaceEventLinks) {
    sink.error(
      "spec.brokerRef.namespace",
      "trigger-broker-ref",
      "must not set the field(s): namespace: only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled",
    );
  }
}

function validateAttributeNames(attributes: unknown, path: string, sink: ProblemSink): void {
  if (attributes === undefined || attributes === null) return;
  if (!isObject(attributes)) {
    sink.error(path, "schema", "must be a map of attribute name to value");
    return;
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_NAME.test(name)) {
      sink.error(
        `${path}[${name}]`,
        "attribute-name",
        `invalid key name ${JSON.stringify(name)}: Attribute name must start with a letter and can only contain lowercase alphanumeric`,
      );
    }
    if (typeof value !== "string") sink.error(`${path}[${name}]`, "schema", "attribute values must be strings");
  }
}

/** A Subscriptions API filter list, as Triggers and EventPolicies hold it (ValidateSubscriptionAPIFiltersList). */
export function validateFilterList(filters: unknown[], path: string, sink: ProblemSink): void {
  filters.forEach((filter, index) => {
    validateFilter(filter, `${path}[${index}]`, sink);
  });
}

function validateFilter(filter: unknown, path: string, sink: ProblemSink): void {
  if (!isObject(filter)) {
    sink.error(path, "schema", "a filter must be an object");
    return;
  }
  for (const key of Object.keys(filter)) {
    if (!(DIALECTS as readonly string[]).includes(key))
      sink.error(
        join(path, key),
        "trigger-filter-dialect",
        `unknown filter dialect ${JSON.stringify(key)} (one of ${DIALECTS.join(", ")})`,
      );
  }
  const present = DIALECTS.filter((d) => {
    const v = filter[d];
    if (v === undefined || v === null) return false;
    if (d === "cesql") return v !== "";
    if (d === "not") return true;
    if (Array.isArray(v)) return v.length > 0;
    return !isObject(v) || Object.keys(v).length > 0;
  });
  if (present.length > 1) {
    sink.error(
      path,
      "trigger-one-dialect",
      `multiple dialects found, filters can have only one dialect set (found ${present.join(", ")})`,
    );
  }
  for (const dialect of ["exact", "prefix", "suffix"] as const) {
    const map = filter[dialect];
    if (map === undefined || map === null) continue;
    if (!isObject(map)) {
      sink.error(join(path, dialect), "schema", "must be a map of attribute name to value");
      continue;
    }
    const keys = Object.keys(map);
    if (keys.length > 1)
      sink.error(join(path, dialect), "trigger-single-attribute", "Multiple items found, can have only one key-value");
    validateAttributeNames(map, join(path, dialect), sink);
  }
  for (const dialect of ["all", "any"] as const) {
    const list = filter[dialect];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) sink.error(join(path, dialect), "schema", "must be a list of filters");
    else validateFilterList(list, join(path, dialect), sink);
  }
  if (filter.not !== undefined && filter.not !== null) validateFilter(filter.not, join(path, "not"), sink);
  if (filter.cesql !== undefined && filter.cesql !== null && filter.cesql !== "") {
    if (typeof filter.cesql !== "string") sink.error(join(path, "cesql"), "schema", "must be a string");
    else {
      const why = checkCesql(filter.cesql);
      if (why !== undefined) sink.error(join(path, "cesql"), "cesql-syntax", `invalid value: ${filter.cesql}: ${why}`);
    }
  }
}

const DEPENDENCY = "knative.dev/dependency";
const INJECTION = "eventing.knative.dev/injection";

function validateTriggerAnnotations(object: Json, sink: ProblemSink, broker: string | undefined): void {
  const meta = isObject(object.metadata) ? object.metadata : {};
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  const dependency = annotations[DEPENDENCY];
  if (dependency !== undefined) {
    const path = `metadata.annotations[${DEPENDENCY}]`;
    let ref: unknown;
    try {
      ref = JSON.parse(String(dependency));
    } catch {
      ref = undefined;
    }
    if (!isObject(ref))
      sink.error(
        path,
        "trigger-dependency",
        `The provided annotation was not a corev1.ObjectReference: ${JSON.stringify(dependency)}`,
      );
    else {
      const ns = str(ref.namespace);
      if (ns && ns !== str(meta.namespace))
        sink.error(
          join(path, "namespace"),
          "trigger-dependency",
          "Namespace must be empty or equal to the trigger namespace",
        );
      for (const field of ["kind", "name", "apiVersion"]) {
        if (!str(ref[field])) sink.error(join(path, field), "trigger-dependency", `missing field(s): ${field}`);
      }
    }
  }
  const injection = annotations[INJECTION];
  if (injection !== undefined) {
    const path = `metadata.annotations[${INJECTION}]`;
    if (injection !== "enabled" && injection !== "disabled") {
      sink.error(
        path,
        "trigger-injection",
        `The provided injection annotation value can only be "enabled" or "disabled", not ${JSON.stringify(injection)}`,
      );
    } else if (broker !== "default") {
      sink.error(
        path,
        "trigger-injection",
        `The provided injection annotation is only used for default broker, but non-default broker specified here: ${JSON.stringify(broker)}`,
      );
    }
  }
}
