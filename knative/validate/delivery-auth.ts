/**
 * knclaw's own checks of delivery authentication over a whole platform rendered with `oidc.enabled`
 * (knative/render/delivery-auth.ts, event-policies.ts), judged the way Knative judges a request
 * (knative/eventing pkg/auth/event_policy.go, verifier.go):
 *
 * - every sender the platform needs (the functions bound to the Broker by a SinkBinding, the skills' replies through
 *   their Triggers, the PingSources) is named by an EventPolicy applying to the Broker, and that policy's filters
 *   pass every event type the sender emits (knative/render/senders.ts) and refuse every other type, and any event
 *   whose binding attributes (source, instance, channel, schedule) name another sender. The ingress judges a sender by
 *   the first applying policy, by name, that lists it, so that is the one checked.
 * - no knclaw policy admits anyone else: every subject it lists is one of the platform's senders, and none is a
 *   wildcard. A policy of your own naming other senders only gets a warning.
 * - every sending function has a projected ServiceAccount token for the Broker's audience and reads it from
 *   `KNCLAW_OIDC_TOKEN_FILE` (without one its ingress answers 401).
 * - every Trigger subscriber and dead-letter sink that cannot announce an audience (a ksvc, a plain Service, a URL)
 *   carries one, else the broker sends it no token; a function requiring an audience gets exactly that one.
 */

import { EXT_CHANNEL, EXT_INSTANCE, EXT_SCHEDULE } from "../../eventing/catalog/attributes.ts";
import * as T from "../../eventing/catalog/types.ts";
import { compileSubscriptionsApiFilters } from "../../eventing/filters/subscriptions-api.ts";
import type { EventFilter } from "../../eventing/filters/types.ts";
import { knativeAudience, knativeOidcServiceAccount, serviceAccountSubject } from "../../runtime/knative-oidc.ts";
import { LABEL_CHANNEL, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_SKILL } from "../../runtime/names.ts";
import { platformEnv } from "../../runtime/platform-env.ts";
import { EVENT_TYPES, type Sender, senderBinding, senderName, senderSource, senderTypes } from "../render/senders.ts";
import { objectId } from "../render/types.ts";
import { isObject, type Json, type Problem, ProblemSink, str } from "./problems.ts";

const EVENTING = "eventing.knative.dev";
const SOURCES = "sources.knative.dev";
const SERVING = "serving.knative.dev";

interface Identity {
  /** The token's `sub`. */
  subject: string;
  /** The object a `from.ref` names for it (a Trigger or a PingSource, whose OIDC identity Knative resolves). */
  ref?: { group: string; kind: string; namespace: string; name: string };
}

interface NeededSender {
  sender: Sender;
  identity: Identity;
  /** The object problems about this sender are reported on. */
  object: Json;
}

export function checkDeliveryAuth(objects: readonly Json[]): Problem[] {
  const problems: Problem[] = [];
  for (const broker of objects.filter((o) => is(o, EVENTING, "Broker"))) {
    const policies = applyingPolicies(objects, broker);
    const senders = neededSenders(objects, broker);
    if (policies.length === 0) {
      const sink = new ProblemSink(objectId(broker));
      sink.warn(
        "",
        "delivery-auth-policy",
        "no EventPolicy applies to this Broker: the cluster's default-authorization-mode decides who may send (allow-same-namespace unless changed: any ServiceAccount of the namespace, any event)",
      );
      problems.push(...sink.problems);
    } else {
      problems.push(...checkSenders(senders, policies), ...checkPolicySubjects(senders, policies));
    }
    problems.push(...checkSenderTokens(broker, senders));
  }
  problems.push(...checkAudiences(objects));
  return problems;
}

/** The EventPolicies Knative applies to a Broker, sorted by name as it does (GetEventPoliciesForResource). */
function applyingPolicies(objects: readonly Json[], broker: Json): Json[] {
  const namespace = namespaceOf(broker);
  const labels = stringMap(meta(broker).labels);
  return objects
    .filter((o) => is(o, EVENTING, "EventPolicy") && namespaceOf(o) === namespace)
    .filter((policy) => {
      const to = listOf(spec(policy).to);
      if (to.length === 0) return true;
      return to.some((target) => {
        if (isObject(target.ref)) {
          return (
            sameKind(target.ref, EVENTING, "Broker") && lower(str(target.ref.name)) === lower(str(meta(broker).name))
          );
        }
        return (
          isObject(target.selector) && sameKind(target.selector, EVENTING, "Broker") && selects(target.selector, labels)
        );
      });
    })
    .sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
}

/** The senders a knclaw platform needs for this Broker, read from its objects' labels and specs. */
function neededSenders(objects: readonly Json[], broker: Json): NeededSender[] {
  const namespace = namespaceOf(broker);
  const brokerName = nameOf(broker);
  const toBroker = (destination: unknown) =>
    isObject(destination) &&
    isObject(destination.ref) &&
    sameKind(destination.ref, EVENTING, "Broker") &&
    str(destination.ref.name) === brokerName &&
    (str(destination.ref.namespace) ?? namespace) === namespace;
  const out: NeededSender[] = [];
  for (const binding of objects.filter((o) => is(o, SOURCES, "SinkBinding") && namespaceOf(o) === namespace)) {
    const subject = spec(binding).subject;
    if (!toBroker(spec(binding).sink) || !isObject(subject) || !sameKind(subject, SERVING, "Service")) continue;
    const ksvc = objects.find(
      (o) => is(o, SERVING, "Service") && namespaceOf(o) === namespace && nameOf(o) === str(subject.name),
    );
    const sender = ksvc === undefined ? undefined : functionSender(ksvc);
    if (ksvc === undefined || sender === undefined) continue;
    const account = str(podSpec(ksvc).serviceAccountName) ?? "default";
    out.push({ sender, identity: { subject: serviceAccountSubject(namespace, account) }, object: ksvc });
  }
  for (const trigger of objects.filter((o) => is(o, EVENTING, "Trigger") && namespaceOf(o) === namespace)) {
    const labels = stringMap(meta(trigger).labels);
    const skill = labels[LABEL_SKILL];
    if (labels[LABEL_COMPONENT] !== "skill" || skill === undefined || str(spec(trigger).broker) !== brokerName)
      continue;
    const subscriber = spec(trigger).subscriber;
    const external = isObject(subscriber) && subscriber.ref === undefined;
    out.push({
      sender: { kind: "skill", skill, external },
      identity: sourceIdentity(trigger, EVENTING),
      object: trigger,
    });
  }
  for (const ping of objects.filter((o) => is(o, SOURCES, "PingSource") && namespaceOf(o) === namespace)) {
    const labels = stringMap(meta(ping).labels);
    const overrides = spec(ping).ceOverrides;
    const extensions = stringMap(isObject(overrides) ? overrides.extensions : undefined);
    const instance = extensions[EXT_INSTANCE];
    const schedule = extensions[EXT_SCHEDULE];
    if (labels[LABEL_COMPONENT] === undefined || !toBroker(spec(ping).sink) || !instance || !schedule) continue;
    out.push({ sender: { kind: "ping", instance, schedule }, identity: sourceIdentity(ping, SOURCES), object: ping });
  }
  return out;
}

function functionSender(ksvc: Json): Sender | undefined {
  const labels = stringMap(meta(ksvc).labels);
  switch (labels[LABEL_COMPONENT]) {
    case "agent":
      return labels[LABEL_INSTANCE] === undefined ? undefined : { kind: "agent", instance: labels[LABEL_INSTANCE] };
    case "channel":
      return labels[LABEL_CHANNEL] === undefined ? undefined : { kind: "channel", channel: labels[LABEL_CHANNEL] };
    case "gateway":
      return { kind: "gateway" };
    case "deadletter":
      return { kind: "deadletter" };
    case "memory":
      return { kind: "memory" };
    default:
      return undefined;
  }
}

/** A Trigger's or a PingSource's OIDC identity: the ServiceAccount Knative makes for it. */
function sourceIdentity(object: Json, group: string): Identity {
  const namespace = namespaceOf(object);
  const kind = str(object.kind)!;
  const name = nameOf(object);
  return {
    subject: serviceAccountSubject(namespace, knativeOidcServiceAccount({ group, kind, name })),
    ref: { group, kind, namespace, name },
  };
}

/** Each sender's policy (the first that names it) lets through what it sends and nothing else. */
function checkSenders(senders: NeededSender[], policies: Json[]): Problem[] {
  const problems: Problem[] = [];
  for (const needed of senders.filter((s) => senderTypes(s.sender).length > 0)) {
    const sink = new ProblemSink(objectId(needed.object));
    const who = senderName(needed.sender);
    const judging = policies.filter((policy) =>
      listOf(spec(policy).from).some((from) => admits(from, needed.identity, namespaceOf(policy))),
    );
    const policy = judging[0];
    if (policy === undefined) {
      sink.error(
        "",
        "delivery-auth-sender",
        `${who} cannot send: no EventPolicy applying to the Broker names ${needed.identity.subject}`,
      );
      problems.push(...sink.problems);
      continue;
    }
    if (judging.length > 1) {
      sink.warn(
        "",
        "delivery-auth-sender",
        `${who} is named by EventPolicies ${judging.map(nameOf).join(", ")}: Knative judges it by ${nameOf(policy)} alone`,
      );
    }
    const filter = compileFilters(policy);
    if (filter === undefined) continue;
    const types = senderTypes(needed.sender);
    for (const type of types) {
      if (!filter(sample(needed.sender, type))) {
        sink.error("", "delivery-auth-sender", `EventPolicy ${nameOf(policy)} refuses the ${type} events ${who} sends`);
      }
    }
    for (const type of EVENT_TYPES.filter((t) => !types.includes(t))) {
      if (filter(sample(needed.sender, type))) {
        sink.error(
          "",
          "delivery-auth-sender",
          `EventPolicy ${nameOf(policy)} lets ${who} send ${type}, which it never sends`,
        );
      }
    }
    for (const type of types) {
      for (const [attribute, value] of Object.entries({
        ...senderBinding(needed.sender),
        ...senderBinding(needed.sender, type),
      })) {
        if (filter({ ...sample(needed.sender, type), [attribute]: `${value}-other` })) {
          sink.error(
            "",
            "delivery-auth-sender",
            `EventPolicy ${nameOf(policy)} lets ${who} send ${type} with ${attribute} other than ${value}: anyone's`,
          );
        }
      }
    }
    problems.push(...sink.problems);
  }
  return problems;
}

/** Every subject a policy admits is one of the platform's senders; knclaw's own policies admit nobody else. */
function checkPolicySubjects(senders: NeededSender[], policies: Json[]): Problem[] {
  const problems: Problem[] = [];
  for (const policy of policies) {
    const sink = new ProblemSink(objectId(policy));
    const ours = stringMap(meta(policy).labels)["app.kubernetes.io/managed-by"] === "knclaw";
    const report = (path: string, message: string) =>
      ours ? sink.error(path, "delivery-auth-subject", message) : sink.warn(path, "delivery-auth-subject", message);
    listOf(spec(policy).from).forEach((from, index) => {
      const path = `spec.from[${index}]`;
      const sub = str(from.sub);
      if (sub?.endsWith("*")) {
        report(`${path}.sub`, `${sub} admits every ServiceAccount whose name starts so, not only the platform's`);
      } else if (!senders.some((needed) => admits(from, needed.identity, namespaceOf(policy)))) {
        report(path, `admits ${sub ?? describeRef(from.ref)}, which is none of the platform's senders`);
      }
    });
    if (listOf(spec(policy).to).length === 0) {
      report("spec.to", "applies to every Broker, Channel and sink of the namespace, not only the platform's Broker");
    }
    problems.push(...sink.problems);
  }
  return problems;
}

/** A sending function reads a projected token for the Broker's audience. */
function checkSenderTokens(broker: Json, senders: NeededSender[]): Problem[] {
  const audience = knativeAudience({
    group: EVENTING,
    kind: "Broker",
    namespace: namespaceOf(broker),
    name: nameOf(broker),
  });
  const problems: Problem[] = [];
  for (const needed of senders) {
    if (!is(needed.object, SERVING, "Service")) continue;
    const sink = new ProblemSink(objectId(needed.object));
    const container = listOf(podSpec(needed.object).containers)[0] ?? {};
    const tokenFile = envValue(container, platformEnv.names.oidcTokenFile);
    const tokens = projectedTokens(needed.object, container);
    if (tokenFile === undefined) {
      sink.error(
        "",
        "delivery-auth-token",
        `sends to the Broker with no token (${platformEnv.names.oidcTokenFile} is not set): its ingress answers 401`,
      );
    } else if (tokens.get(tokenFile) !== audience) {
      sink.error(
        "",
        "delivery-auth-token",
        `${platformEnv.names.oidcTokenFile} (${tokenFile}) is no projected ServiceAccount token for the Broker's audience ${audience}`,
      );
    }
    problems.push(...sink.problems);
  }
  return problems;
}

/** Projected serviceAccountToken files of a container, by path, with their audience. */
function projectedTokens(ksvc: Json, container: Json): Map<string, string | undefined> {
  const volumes = new Map(listOf(podSpec(ksvc).volumes).map((v) => [str(v.name), v] as const));
  const tokens = new Map<string, string | undefined>();
  for (const mount of listOf(container.volumeMounts)) {
    const volume = volumes.get(str(mount.name));
    const projected = volume !== undefined && isObject(volume.projected) ? volume.projected : undefined;
    for (const source of listOf(projected?.sources)) {
      const token = isObject(source.serviceAccountToken) ? source.serviceAccountToken : undefined;
      if (token === undefined || !str(token.path) || !str(mount.mountPath)) continue;
      tokens.set(`${str(mount.mountPath)!.replace(/\/+$/, "")}/${str(token.path)}`, str(token.audience));
    }
  }
  return tokens;
}

/**
 * Audiences on the way to every subscriber and dead-letter sink: a ksvc, a Service or a URL announces none, so without
 * one on the destination the broker presents no token; a function requiring an audience must get exactly that one.
 */
function checkAudiences(objects: readonly Json[]): Problem[] {
  const problems: Problem[] = [];
  const required = new Map<string, string>();
  for (const ksvc of objects.filter((o) => is(o, SERVING, "Service"))) {
    const container = listOf(podSpec(ksvc).containers)[0] ?? {};
    const audience = envValue(container, platformEnv.names.deliveryAudience);
    if (audience !== undefined) required.set(`${namespaceOf(ksvc)}/${nameOf(ksvc)}`, audience);
  }
  for (const object of objects.filter((o) => is(o, EVENTING, "Trigger") || is(o, EVENTING, "Broker"))) {
    const sink = new ProblemSink(objectId(object));
    const destinations: Array<[string, unknown]> = [];
    if (is(object, EVENTING, "Trigger")) destinations.push(["spec.subscriber", spec(object).subscriber]);
    const delivery = spec(object).delivery;
    if (isObject(delivery)) destinations.push(["spec.delivery.deadLetterSink", delivery.deadLetterSink]);
    for (const [path, destination] of destinations) {
      if (!isObject(destination)) continue;
      const audience = str(destination.audience);
      const ref = isObject(destination.ref) ? destination.ref : undefined;
      const target =
        ref !== undefined && sameKind(ref, SERVING, "Service")
          ? required.get(`${str(ref.namespace) ?? namespaceOf(object)}/${str(ref.name)}`)
          : undefined;
      if (target !== undefined && audience !== target) {
        sink.error(
          `${path}.audience`,
          "delivery-auth-audience",
          `${str(ref?.name)} accepts tokens for ${target} only, the broker would present ${audience ?? "none"}: every delivery refused (401)`,
        );
      } else if (audience === undefined && (ref === undefined || !announcesAudience(ref))) {
        sink.warn(
          path,
          "delivery-auth-audience",
          "no audience: with authentication-oidc on, the broker presents no token here, so the receiver cannot tell it from anyone else",
        );
      }
    }
    problems.push(...sink.problems);
  }
  return problems;
}

/** Knative's own addressables (Brokers, Channels, sinks) announce their audience; a ksvc and a Service do not. */
function announcesAudience(ref: Json): boolean {
  const group = groupOf(str(ref.apiVersion));
  return group.endsWith("knative.dev") && group !== SERVING;
}

/** Whether a `from` entry admits an identity (SubjectAndFiltersPass: equal ignoring case, or a `*` suffix). */
function admits(from: Json, identity: Identity, policyNamespace: string): boolean {
  const sub = str(from.sub);
  if (sub !== undefined) {
    if (sub.endsWith("*")) return identity.subject.startsWith(sub.slice(0, -1));
    return lower(sub) === lower(identity.subject);
  }
  const ref = isObject(from.ref) ? from.ref : undefined;
  const target = identity.ref;
  if (ref === undefined || target === undefined) return false;
  return (
    sameKind(ref, target.group, target.kind) &&
    str(ref.name) === target.name &&
    (str(ref.namespace) ?? policyNamespace) === target.namespace
  );
}

/**
 * The attributes an event of this type from this sender carries, as far as filters can see: its type, its source
 * and the routing extensions the catalog sets (eventing/catalog/make.ts; a PingSource's come from ceOverrides).
 */
function sample(sender: Sender, type: string): Record<string, string> {
  const attributes: Record<string, string> = {
    specversion: "1.0",
    id: "sample",
    type,
    source: senderSource(sender) ?? "/elsewhere",
  };
  const own = (key: "instance" | "channel" | "schedule") =>
    key in sender ? (sender as Record<string, string>)[key]! : `any-${key}`;
  attributes[EXT_INSTANCE] = own("instance");
  if (type === T.PING) attributes[EXT_SCHEDULE] = own("schedule");
  if (([T.MESSAGE_RECEIVED, T.MESSAGE_SEND, T.APPROVAL_REQUESTED, T.APPROVAL_RESOLVED] as string[]).includes(type))
    attributes[EXT_CHANNEL] = type === T.MESSAGE_RECEIVED ? own("channel") : "any-channel";
  return attributes;
}

function compileFilters(policy: Json): EventFilter | undefined {
  try {
    return compileSubscriptionsApiFilters(spec(policy).filters);
  } catch {
    return undefined; // the EventPolicy's own rules already report it
  }
}

function selects(selector: Json, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(stringMap(selector.matchLabels))) if (labels[key] !== value) return false;
  for (const expression of listOf(selector.matchExpressions)) {
    const key = str(expression.key) ?? "";
    const values = Array.isArray(expression.values) ? expression.values : [];
    const has = key in labels;
    const ok = {
      In: has && values.includes(labels[key]),
      NotIn: !has || !values.includes(labels[key]),
      Exists: has,
      DoesNotExist: !has,
    }[str(expression.operator) ?? ""];
    if (ok !== true) return false;
  }
  return true;
}

function envValue(container: Json, name: string): string | undefined {
  return str(listOf(container.env).find((e) => e.name === name)?.value);
}

function describeRef(ref: unknown): string {
  return isObject(ref) ? `${str(ref.kind)} ${str(ref.name)}` : "nothing";
}

const is = (object: Json, group: string, kind: string) =>
  object.kind === kind && groupOf(str(object.apiVersion)) === group;
const sameKind = (ref: Json, group: string, kind: string) =>
  lower(str(ref.kind)) === lower(kind) && lower(groupOf(str(ref.apiVersion))) === lower(group);
const groupOf = (apiVersion: string | undefined) => (apiVersion?.includes("/") ? apiVersion.split("/")[0]! : "");
const lower = (value: string | undefined) => value?.toLowerCase();
const meta = (object: Json): Json => (isObject(object.metadata) ? object.metadata : {});
const spec = (object: Json): Json => (isObject(object.spec) ? object.spec : {});
const nameOf = (object: Json) => str(meta(object).name) ?? "";
const namespaceOf = (object: Json) => str(meta(object).namespace) ?? "";
const listOf = (value: unknown): Json[] => (Array.isArray(value) ? value.filter(isObject) : []);
const stringMap = (value: unknown): Record<string, string> =>
  isObject(value)
    ? Object.fromEntries(
        Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      )
    : {};
function podSpec(ksvc: Json): Json {
  const template = isObject(spec(ksvc).template) ? (spec(ksvc).template as Json) : {};
  return isObject(template.spec) ? template.spec : {};
}
