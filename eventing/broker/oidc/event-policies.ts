import { compileSubscriptionsApiFilters } from "../../filters/subscriptions-api.ts";
import { type EventFilter, FilterError } from "../../filters/types.ts";
import { describeObject, isRecord, type KnativeObject, namespaceOf, ObjectError } from "../objects.ts";
import { compileLabelSelector, type LabelMatcher } from "./label-selector.ts";

/**
 * EventPolicies (eventing.knative.dev/v1alpha1, pkg/apis/eventing/v1alpha1/eventpolicy_types.go) read with Knative's
 * webhook rules (eventpolicy_validation.go) and resolved as its controller resolves them:
 * - `spec.to` says which resources a policy applies to (pkg/auth/event_policy.go, GetEventPoliciesForResource): by
 *   `ref` (group, kind and name, case-insensitively) or by `selector` (group and kind, then the labels); an empty
 *   `to` applies to every resource of the policy's namespace.
 * - `spec.from` lists who may send (ResolveSubjects): a `sub` as written (a trailing `*` matches any suffix), or a
 *   `ref` to an object with an OIDC identity, which stands for that identity's ServiceAccount subject. A ref that
 *   cannot be resolved leaves the policy not Ready, and Knative applies Ready policies only.
 * - `spec.filters` are Subscriptions API filters the event must pass (the same dialects as a Trigger's).
 */
export interface EventPolicyRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

/** The OIDC subjects of a referenced object (its `status.auth`), or undefined when it has none here. */
export type SubjectResolver = (ref: EventPolicyRef) => string[] | undefined;

export interface CompiledEventPolicy {
  namespace: string;
  name: string;
  /** Whether the policy applies to a Broker of its namespace with these labels. */
  appliesToBroker(name: string, labels: Readonly<Record<string, string>>): boolean;
  /** `status.from`: who may send; empty when the policy is not Ready (`notReady` says why). */
  subjects: string[];
  notReady?: string;
  filter: EventFilter;
}

const SPEC_FIELDS = new Set(["to", "from", "filters"]);

export function compileEventPolicy(object: KnativeObject, resolve: SubjectResolver): CompiledEventPolicy {
  const id = describeObject(object);
  const namespace = namespaceOf(object);
  const spec = object.spec ?? {};
  if (!isRecord(spec)) throw new ObjectError(id, "spec", "event-policy", "must be an object");
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(key))
      throw new ObjectError(id, `spec.${key}`, "unknown-field", "not an EventPolicy spec field");
  }
  const targets = list(spec.to, id, "spec.to").map((item, index) => readTarget(item, id, `spec.to[${index}]`));
  const froms = list(spec.from, id, "spec.from").map((item, index) => readFrom(item, id, `spec.from[${index}]`));
  let filter: EventFilter;
  try {
    filter = compileSubscriptionsApiFilters(spec.filters, "spec.filters");
  } catch (error) {
    if (error instanceof FilterError) throw new ObjectError(id, error.path, error.rule, error.reason);
    throw error;
  }
  const subjects: string[] = [];
  let notReady: string | undefined;
  for (const from of froms) {
    if ("sub" in from) {
      subjects.push(from.sub);
      continue;
    }
    const ref = { ...from.ref, namespace: from.ref.namespace || namespace };
    const resolved = resolve(ref);
    if (resolved === undefined) {
      notReady ??= `${ref.kind} ${ref.namespace}/${ref.name} (${ref.apiVersion}) has no OIDC identity here`;
    } else subjects.push(...resolved);
  }
  return {
    namespace,
    name: object.metadata.name,
    appliesToBroker: (name, labels) => targets.length === 0 || targets.some((target) => target(name, labels)),
    subjects: notReady === undefined ? subjects : [],
    ...(notReady === undefined ? {} : { notReady }),
    filter,
  };
}

/**
 * Whether a sender may send this event, by the policies that apply (sorted by name): the first policy listing the
 * subject decides, by its filters. That is Knative's SubjectAndFiltersPass to the letter: a later policy that lists
 * the same subject is never consulted, even when the first one's filters refuse the event.
 */
export function subjectAndFiltersPass(
  subject: string,
  policies: readonly CompiledEventPolicy[],
  attributes: Readonly<Record<string, string>>,
): boolean {
  for (const policy of policies) {
    for (const allowed of policy.subjects) {
      if (subjectMatches(allowed, subject)) return policy.filter(attributes);
    }
  }
  return false;
}

function subjectMatches(allowed: string, subject: string): boolean {
  // strings.EqualFold for the whole subject; a trailing `*` is a case-sensitive prefix.
  if (allowed.toLowerCase() === subject.toLowerCase()) return true;
  return allowed.endsWith("*") && subject.startsWith(allowed.slice(0, -1));
}

type Target = (name: string, labels: Readonly<Record<string, string>>) => boolean;

const BROKER_GROUP = "eventing.knative.dev";
const BROKER_KIND = "broker";

function readTarget(value: unknown, id: string, path: string): Target {
  const { ref, selector } = oneOf(value, id, path, "ref", "selector");
  if (ref !== undefined) {
    const target = readRef(ref, id, `${path}.ref`, false);
    const applies = isBroker(target.apiVersion, target.kind);
    return (name) => applies && target.name.toLowerCase() === name.toLowerCase();
  }
  if (!isRecord(selector)) throw new ObjectError(id, `${path}.selector`, "event-policy-selector", "must be an object");
  const apiVersion = typeof selector.apiVersion === "string" ? selector.apiVersion : "";
  const kind = typeof selector.kind === "string" ? selector.kind : "";
  groupOf(apiVersion, id, `${path}.selector.apiVersion`);
  const matcher: LabelMatcher | string = compileLabelSelector(selector);
  if (typeof matcher === "string") throw new ObjectError(id, `${path}.selector`, "label-selector", matcher);
  const applies = isBroker(apiVersion, kind);
  return (_name, labels) => applies && matcher(labels);
}

function isBroker(apiVersion: string, kind: string): boolean {
  return groupOf(apiVersion).toLowerCase() === BROKER_GROUP && kind.toLowerCase() === BROKER_KIND;
}

type From = { sub: string } | { ref: EventPolicyRef };

function readFrom(value: unknown, id: string, path: string): From {
  const { ref, sub } = oneOf(value, id, path, "ref", "sub");
  if (ref !== undefined) return { ref: readRef(ref, id, `${path}.ref`, true) };
  if (typeof sub !== "string" || sub === "") {
    throw new ObjectError(id, `${path}.sub`, "event-policy-from", "expected exactly one, got neither: ref, sub");
  }
  // '*' is only allowed as the last character (validateSub).
  const star = sub.indexOf("*");
  if (sub.length > 1 && star >= 0 && star <= sub.length - 2) {
    throw new ObjectError(
      id,
      `${path}.sub`,
      "event-policy-sub",
      `invalid value: ${sub}: '*' is only allowed as suffix`,
    );
  }
  return { sub };
}

function readRef(value: unknown, id: string, path: string, withNamespace: boolean): EventPolicyRef {
  if (!isRecord(value)) throw new ObjectError(id, path, "event-policy-ref", "must be an object");
  const missing = ["kind", "apiVersion", "name"].filter((key) => typeof value[key] !== "string" || value[key] === "");
  if (missing.length > 0) {
    throw new ObjectError(id, path, "required", `missing field(s): ${missing.join(", ")}`);
  }
  groupOf(value.apiVersion as string, id, `${path}.apiVersion`);
  const namespace = withNamespace && typeof value.namespace === "string" ? value.namespace : "";
  return { apiVersion: value.apiVersion as string, kind: value.kind as string, name: value.name as string, namespace };
}

/** The API group of an apiVersion (schema.ParseGroupVersion): `group/version`, `version` (core), never more parts. */
function groupOf(apiVersion: string, id?: string, path?: string): string {
  const parts = apiVersion.split("/");
  if (parts.length > 2 && id !== undefined) {
    throw new ObjectError(id, path!, "api-version", `unexpected GroupVersion string: ${apiVersion}`);
  }
  return parts.length === 2 ? parts[0]! : "";
}

function oneOf(value: unknown, id: string, path: string, a: string, b: string): Record<string, unknown> {
  if (!isRecord(value)) throw new ObjectError(id, path, "event-policy", "must be an object");
  const hasA = value[a] !== undefined && value[a] !== null;
  const hasB = value[b] !== undefined && value[b] !== null && value[b] !== "";
  if (hasA && hasB) throw new ObjectError(id, path, "one-of", `expected exactly one, got both: ${a}, ${b}`);
  if (!hasA && !hasB) throw new ObjectError(id, path, "one-of", `expected exactly one, got neither: ${a}, ${b}`);
  return value;
}

function list(value: unknown, id: string, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ObjectError(id, path, "event-policy", "must be a list");
  return value;
}
