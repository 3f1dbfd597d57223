/**
 * validateObjects: every object against its Kubernetes/Knative schema, the Knative webhook rules those schemas do
 * not encode, Kubernetes name syntax, and knclaw's own rules (no Secrets rendered, no literal secrets in env,
 * images pinned by digest, restricted securityContext, and with `deliveryAuth` the agreement of a platform's senders,
 * EventPolicies, tokens and audiences). Returns problems naming the object, the field and the rule.
 */
import { objectId } from "../render/types.ts";
import { validateConfigMap } from "./config-map.ts";
import { checkDeliveryAuth } from "./delivery-auth.ts";
import { checkImageRef } from "./image.ts";
import { checkDns1123Label, checkDns1123Subdomain, checkLabelValue, checkQualifiedKey } from "./names.ts";
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from "./options.ts";
import { isObject, type Json, type Problem, ProblemSink, str } from "./problems.ts";
import { hasSchema, validateSchema } from "./schemas.ts";
import { detectLiteralSecret } from "./secrets.ts";
import { validateBroker } from "./webhook/broker.ts";
import { validateEventPolicy } from "./webhook/event-policy.ts";
import { validateKnativeService } from "./webhook/service.ts";
import { validatePingSource, validateSinkBinding } from "./webhook/sources.ts";
import { validateTrigger } from "./webhook/trigger.ts";

const EVENT_POLICY = "eventing.knative.dev/v1alpha1/EventPolicy";

export interface ValidateObjectsOptions extends Partial<WebhookOptions> {
  /** Check that references between the objects (broker, subscriber ksvc, binding subject, sinks) resolve among them. */
  checkReferences?: boolean;
  /** knclaw's hardening rules for Knative Services (digest-pinned images, restricted securityContext) as warnings. */
  hardening?: boolean;
  /** Where each object came from, by index (file:document), for messages. */
  sources?: readonly (string | undefined)[];
  /**
   * knclaw's delivery-authentication checks over the whole set (delivery-auth.ts), for a platform rendered with
   * `oidc.enabled`: its senders, EventPolicies, tokens and audiences agree.
   */
  deliveryAuth?: boolean;
}

export function validateObjects(objects: readonly unknown[], options: ValidateObjectsOptions = {}): Problem[] {
  const webhook: WebhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...definedOnly(options) };
  const problems: Problem[] = [];
  objects.forEach((object, index) => {
    problems.push(...validateObject(object, webhook, options, options.sources?.[index]));
  });
  if (options.checkReferences) problems.push(...checkReferences(objects.filter(isObject)));
  if (options.deliveryAuth) problems.push(...checkDeliveryAuth(objects.filter(isObject)));
  return problems;
}

function definedOnly(options: ValidateObjectsOptions): Partial<WebhookOptions> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined && k in DEFAULT_WEBHOOK_OPTIONS) out[k] = v;
  return out as Partial<WebhookOptions>;
}

export function validateObject(
  object: unknown,
  webhook: WebhookOptions,
  options: ValidateObjectsOptions = {},
  source?: string,
): Problem[] {
  if (!isObject(object)) {
    const sink = new ProblemSink("(not an object)", source);
    sink.error("", "schema", "a Kubernetes object must be a mapping");
    return sink.problems;
  }
  const sink = new ProblemSink(objectId(object), source);
  const apiVersion = str(object.apiVersion);
  const kind = str(object.kind);
  if (!apiVersion) sink.error("apiVersion", "required", "missing field(s): apiVersion");
  if (!kind) sink.error("kind", "required", "missing field(s): kind");
  validateMetadata(object, sink, kind);
  if (apiVersion && kind) {
    const key = `${apiVersion}/${kind}`;
    // EventPolicy's fields are checked by its webhook rules (no kubernetes-models schema covers it).
    if (hasSchema(apiVersion, kind)) validateSchema(object, sink);
    else if (key !== EVENT_POLICY)
      sink.warn("", "schema", `no schema known for ${apiVersion} ${kind}: only metadata was checked`);
    switch (key) {
      case EVENT_POLICY:
        validateEventPolicy(object, sink, webhook);
        break;
      case "eventing.knative.dev/v1/Trigger":
        validateTrigger(object, sink, webhook);
        break;
      case "eventing.knative.dev/v1/Broker":
        validateBroker(object, sink, webhook);
        break;
      case "sources.knative.dev/v1/PingSource":
        validatePingSource(object, sink, webhook);
        break;
      case "sources.knative.dev/v1/SinkBinding":
        validateSinkBinding(object, sink);
        break;
      case "serving.knative.dev/v1/Service":
        validateKnativeService(object, sink, webhook);
        validateContainerSecrets(object, sink);
        if (options.hardening) checkHardening(object, sink);
        break;
      case "v1/ConfigMap":
        validateConfigMap(object, sink);
        break;
      case "v1/Secret":
        sink.error(
          "",
          "secrets-not-inlined",
          "knclaw never renders Secrets: create them out of band and refer to them",
        );
        break;
    }
  }
  return sink.problems;
}

function validateMetadata(object: Json, sink: ProblemSink, kind: string | undefined): void {
  const meta = object.metadata;
  if (!isObject(meta)) {
    sink.error("metadata", "required", "missing field(s): metadata");
    return;
  }
  const name = str(meta.name);
  if (!name) sink.error("metadata.name", "required", "missing field(s): name");
  else {
    const why = kind === "Namespace" ? checkDns1123Label(name) : checkDns1123Subdomain(name);
    if (why) sink.error("metadata.name", "name", why);
  }
  const ns = str(meta.namespace);
  if (ns !== undefined) {
    const why = checkDns1123Label(ns);
    if (why) sink.error("metadata.namespace", "name", why);
  }
  for (const field of ["labels", "annotations"] as const) {
    const map = meta[field];
    if (map === undefined) continue;
    if (!isObject(map)) {
      sink.error(`metadata.${field}`, "schema", "must be a map of string to string");
      continue;
    }
    for (const [key, value] of Object.entries(map)) {
      const keyWhy = checkQualifiedKey(key);
      if (keyWhy) sink.error(`metadata.${field}[${key}]`, "metadata-key", keyWhy);
      if (typeof value !== "string") sink.error(`metadata.${field}[${key}]`, "schema", "values must be strings");
      else if (field === "labels") {
        const valueWhy = checkLabelValue(value);
        if (valueWhy) sink.error(`metadata.labels[${key}]`, "label-value", valueWhy);
      }
    }
  }
}

function containersOf(object: Json): Json[] {
  const spec = isObject(object.spec) ? object.spec : {};
  const template = isObject(spec.template) ? spec.template : {};
  const pod = isObject(template.spec) ? template.spec : {};
  return Array.isArray(pod.containers) ? pod.containers.filter(isObject) : [];
}

function validateContainerSecrets(object: Json, sink: ProblemSink): void {
  containersOf(object).forEach((c, i) => {
    if (!Array.isArray(c.env)) return;
    c.env.forEach((e, j) => {
      if (!isObject(e) || typeof e.value !== "string") return;
      const kind = detectLiteralSecret(e.value);
      if (kind) {
        sink.error(
          `spec.template.spec.containers[${i}].env[${j}].value`,
          "no-literal-secrets",
          `looks like a ${kind}: use valueFrom.secretKeyRef`,
        );
      }
    });
  });
}

function checkHardening(object: Json, sink: ProblemSink): void {
  containersOf(object).forEach((c, i) => {
    const path = `spec.template.spec.containers[${i}]`;
    const image = str(c.image);
    if (image) {
      const check = checkImageRef(image);
      if (check.ok && check.warning) sink.warn(`${path}.image`, "image-digest", check.warning);
    }
    const sc = isObject(c.securityContext) ? c.securityContext : {};
    const caps = isObject(sc.capabilities) ? sc.capabilities : {};
    const seccomp = isObject(sc.seccompProfile) ? sc.seccompProfile : {};
    if (sc.runAsNonRoot !== true)
      sink.warn(`${path}.securityContext.runAsNonRoot`, "restricted-security-context", "should be true");
    if (sc.readOnlyRootFilesystem !== true)
      sink.warn(`${path}.securityContext.readOnlyRootFilesystem`, "restricted-security-context", "should be true");
    if (sc.allowPrivilegeEscalation !== false)
      sink.warn(`${path}.securityContext.allowPrivilegeEscalation`, "restricted-security-context", "should be false");
    if (!Array.isArray(caps.drop) || !caps.drop.includes("ALL"))
      sink.warn(`${path}.securityContext.capabilities.drop`, "restricted-security-context", "should drop ALL");
    if (seccomp.type !== "RuntimeDefault" && seccomp.type !== "Localhost")
      sink.warn(`${path}.securityContext.seccompProfile`, "restricted-security-context", "should be RuntimeDefault");
  });
}

function refKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ""}/${name}`;
}

/** References between the objects: a Trigger's broker, ksvc subscribers, SinkBinding subjects, Broker sinks. */
function checkReferences(objects: Json[]): Problem[] {
  const known = new Set<string>();
  for (const o of objects) {
    const meta = isObject(o.metadata) ? o.metadata : {};
    if (str(o.kind) && str(meta.name)) known.add(refKey(o.kind as string, str(meta.namespace), meta.name as string));
  }
  const problems: Problem[] = [];
  for (const o of objects) {
    const meta = isObject(o.metadata) ? o.metadata : {};
    const ns = str(meta.namespace);
    const spec = isObject(o.spec) ? o.spec : {};
    const sink = new ProblemSink(objectId(o));
    const expectRef = (path: string, ref: unknown) => {
      if (!isObject(ref) || !str(ref.kind) || !str(ref.name)) return;
      const target = refKey(ref.kind as string, str(ref.namespace) ?? ns, ref.name as string);
      if (!known.has(target)) sink.error(path, "reference", `${ref.kind} ${String(ref.name)} is not among the objects`);
    };
    const destination = (path: string, dest: unknown) => {
      if (isObject(dest)) expectRef(`${path}.ref`, dest.ref);
    };
    switch (o.kind) {
      case "Trigger":
        if (str(spec.broker) && !known.has(refKey("Broker", ns, spec.broker as string))) {
          sink.error("spec.broker", "reference", `Broker ${String(spec.broker)} is not among the objects`);
        }
        destination("spec.subscriber", spec.subscriber);
        if (isObject(spec.delivery)) destination("spec.delivery.deadLetterSink", spec.delivery.deadLetterSink);
        break;
      case "Broker":
        if (isObject(spec.delivery)) destination("spec.delivery.deadLetterSink", spec.delivery.deadLetterSink);
        break;
      case "PingSource":
        destination("spec.sink", spec.sink);
        break;
      case "SinkBinding":
        destination("spec.sink", spec.sink);
        expectRef("spec.subject", spec.subject);
        break;
      case "Service":
        if (o.apiVersion === "serving.knative.dev/v1") {
          const template = isObject(spec.template) ? spec.template : {};
          const pod = isObject(template.spec) ? template.spec : {};
          const sa = str(pod.serviceAccountName);
          if (sa && !known.has(refKey("ServiceAccount", ns, sa)))
            sink.error(
              "spec.template.spec.serviceAccountName",
              "reference",
              `ServiceAccount ${sa} is not among the objects`,
            );
          // A pod whose ConfigMap volume is missing never starts (kubelet waits for it).
          for (const [path, name] of mountedConfigMaps(pod)) {
            if (!known.has(refKey("ConfigMap", ns, name)))
              sink.error(path, "reference", `ConfigMap ${name} is not among the objects`);
          }
        }
        break;
    }
    problems.push(...sink.problems);
  }
  return problems;
}

/** Published by Kubernetes in every namespace: a reference to it needs no object of the set. */
const CLUSTER_CONFIG_MAPS = new Set(["kube-root-ca.crt"]);

/** The ConfigMaps a pod's volumes project and require (not `optional`), with where each is named. */
function mountedConfigMaps(pod: Json): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (path: string, source: unknown) => {
    if (!isObject(source) || source.optional === true) return;
    const name = str(source.name);
    if (name !== undefined && !CLUSTER_CONFIG_MAPS.has(name)) out.push([`${path}.name`, name]);
  };
  (Array.isArray(pod.volumes) ? pod.volumes : []).forEach((volume, i) => {
    if (!isObject(volume)) return;
    const path = `spec.template.spec.volumes[${i}]`;
    add(`${path}.configMap`, volume.configMap);
    const sources =
      isObject(volume.projected) && Array.isArray(volume.projected.sources) ? volume.projected.sources : [];
    sources.forEach((source, j) => {
      if (isObject(source)) add(`${path}.projected.sources[${j}].configMap`, source.configMap);
    });
  });
  return out;
}
