/**
 * EventPolicy (knative/eventing pkg/apis/eventing/v1alpha1: eventpolicy_types.go for the fields, the CRD
 * config/core/resources/eventpolicy.yaml for their types, eventpolicy_validation.go for the rules): Knative's webhook
 * refuses any EventPolicy created or changed while `authentication-oidc` is off; each `from` holds exactly one of `ref`
 * (apiVersion, kind and name) and a non-empty `sub` with `*` only as its last character; each `to` exactly one of
 * `ref` (apiVersion, kind, name: no namespace, a policy protects its own namespace's objects) and a label `selector`
 * with apiVersion and kind; `filters` are Subscriptions API filters, checked as a Trigger's are. No schema of the
 * kubernetes-models packages covers EventPolicy, so the field types are checked here too, and a field the CRD does
 * not define is an error: the API server would prune it, and a policy that lost a misspelled `filters` silently
 * admits every event of its senders.
 */
import type { WebhookOptions } from "../options.ts";
import { isObject, type Json, join, type ProblemSink, str } from "../problems.ts";
import { validateFilterList } from "./trigger.ts";

const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

export function validateEventPolicy(object: Json, sink: ProblemSink, options: WebhookOptions): void {
  if (!options.authenticationOidc) {
    sink.error(
      "",
      "oidc-feature",
      "oidc-authentication feature not enabled: Knative refuses EventPolicies unless config-features has authentication-oidc: enabled",
    );
  }
  knownFields(object, "", ["apiVersion", "kind", "metadata", "spec", "status"], sink);
  const spec = object.spec;
  if (spec === undefined) return;
  if (!isObject(spec)) {
    sink.error("spec", "schema", "must be an object");
    return;
  }
  knownFields(spec, "spec", ["to", "from", "filters"], sink);
  list(spec.to, "spec.to", sink).forEach((to, index) => {
    validateTo(to, `spec.to[${index}]`, sink);
  });
  list(spec.from, "spec.from", sink).forEach((from, index) => {
    validateFrom(from, `spec.from[${index}]`, sink);
  });
  if (spec.filters !== undefined && spec.filters !== null) {
    if (!Array.isArray(spec.filters)) sink.error("spec.filters", "schema", "must be a list");
    else validateFilterList(spec.filters, "spec.filters", sink);
  }
}

function validateTo(to: unknown, path: string, sink: ProblemSink): void {
  if (!isObject(to)) {
    sink.error(path, "schema", "must be an object");
    return;
  }
  knownFields(to, path, ["ref", "selector"], sink);
  oneOf(to, path, ["ref", "selector"], sink);
  if (to.ref !== undefined) reference(to.ref, join(path, "ref"), ["apiVersion", "kind", "name"], sink);
  if (to.selector !== undefined) selector(to.selector, join(path, "selector"), sink);
}

function validateFrom(from: unknown, path: string, sink: ProblemSink): void {
  if (!isObject(from)) {
    sink.error(path, "schema", "must be an object");
    return;
  }
  knownFields(from, path, ["ref", "sub"], sink);
  const sub = from.sub;
  const hasSub = sub !== undefined && sub !== null && sub !== "";
  if (from.ref === undefined && !hasSub) {
    sink.error(path, "event-policy-from", "expected exactly one, got neither: ref, sub");
  } else if (from.ref !== undefined && sub !== undefined) {
    sink.error(path, "event-policy-from", "expected exactly one, got both: ref, sub");
  }
  if (from.ref !== undefined) reference(from.ref, join(path, "ref"), ["apiVersion", "kind", "name", "namespace"], sink);
  if (sub !== undefined) {
    if (typeof sub !== "string") sink.error(join(path, "sub"), "schema", "must be a string");
    else if (sub.length > 1 && sub.slice(0, -1).includes("*")) {
      sink.error(join(path, "sub"), "event-policy-sub", `invalid value: ${sub}: '*' is only allowed as suffix`);
    }
  }
}

function reference(ref: unknown, path: string, fields: string[], sink: ProblemSink): void {
  if (!isObject(ref)) {
    sink.error(path, "schema", "must be an object");
    return;
  }
  knownFields(ref, path, fields, sink);
  for (const field of fields) {
    if (ref[field] !== undefined && typeof ref[field] !== "string")
      sink.error(join(path, field), "schema", "must be a string");
  }
  for (const field of ["apiVersion", "kind", "name"]) {
    if (!str(ref[field])) sink.error(join(path, field), "reference", `missing field(s): ${field}`);
  }
}

function selector(value: unknown, path: string, sink: ProblemSink): void {
  if (!isObject(value)) {
    sink.error(path, "schema", "must be an object");
    return;
  }
  knownFields(value, path, ["apiVersion", "kind", "matchLabels", "matchExpressions"], sink);
  // Knative matches a selector's objects by the group of apiVersion and by kind (pkg/auth/event_policy.go).
  for (const field of ["apiVersion", "kind"]) {
    if (!str(value[field])) sink.error(join(path, field), "reference", `missing field(s): ${field}`);
  }
  if (value.matchLabels !== undefined) {
    if (!isObject(value.matchLabels) || Object.values(value.matchLabels).some((v) => typeof v !== "string"))
      sink.error(join(path, "matchLabels"), "schema", "must be a map of string to string");
  }
  list(value.matchExpressions, join(path, "matchExpressions"), sink).forEach((expression, index) => {
    const at = `${join(path, "matchExpressions")}[${index}]`;
    if (!isObject(expression)) {
      sink.error(at, "schema", "must be an object");
      return;
    }
    knownFields(expression, at, ["key", "operator", "values"], sink);
    if (!str(expression.key)) sink.error(join(at, "key"), "required", "missing field(s): key");
    const operator = str(expression.operator);
    if (operator === undefined || !SELECTOR_OPERATORS.includes(operator)) {
      sink.error(join(at, "operator"), "selector", `must be one of ${SELECTOR_OPERATORS.join(", ")}`);
    }
    const values = list(expression.values, join(at, "values"), sink);
    if (values.some((v) => typeof v !== "string")) sink.error(join(at, "values"), "schema", "must be strings");
    const needsValues = operator === "In" || operator === "NotIn";
    if (needsValues && values.length === 0) sink.error(join(at, "values"), "selector", `${operator} needs values`);
    if (!needsValues && values.length > 0) sink.error(join(at, "values"), "selector", `${operator} takes no values`);
  });
}

function list(value: unknown, path: string, sink: ProblemSink): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  sink.error(path, "schema", "must be a list");
  return [];
}

function oneOf(value: Json, path: string, fields: string[], sink: ProblemSink): void {
  const present = fields.filter((field) => value[field] !== undefined && value[field] !== null);
  if (present.length === 0)
    sink.error(path, "event-policy-to", `expected exactly one, got neither: ${fields.join(", ")}`);
  if (present.length > 1) sink.error(path, "event-policy-to", `expected exactly one, got both: ${present.join(", ")}`);
}

function knownFields(value: Json, path: string, fields: string[], sink: ProblemSink): void {
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) {
      sink.error(
        join(path, key),
        "unknown-field",
        `unknown field ${JSON.stringify(key)} (the API server would drop it; known: ${fields.join(", ")})`,
      );
    }
  }
}
