/**
 * Reading arbitrary Knative YAML into objects with the same checks a cluster would apply: the schemas plus the
 * webhook rules. `knclaw dev --manifests DIR` and `knclaw validate --manifests DIR` use it and refuse the folder on
 * any error, naming the file, the object and the rule. Every kind is admitted, as a cluster with its CRDs admits it:
 * the kinds knclaw dev acts on (RUN_KINDS) are checked with their webhook rules and defaulted (namespace, PingSource
 * schedule `* * * * *`, ref namespaces); anything else (RBAC, Deployments, Sequences, other sources) is returned as
 * written (knclaw dev lists it as not run), so a folder copied from the Knative docs loads whole. Only a known kind at a
 * version Knative does not serve is refused.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { objectId } from "../render/types.ts";
import { validateObject } from "./objects.ts";
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from "./options.ts";
import { formatProblem, isObject, type Problem } from "./problems.ts";
import { DEFAULT_PING_SCHEDULE } from "./webhook/sources.ts";

interface KReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

interface Destination {
  ref?: KReference;
  uri?: string;
}

interface DeliverySpec {
  deadLetterSink?: Destination;
  retry?: number;
  backoffPolicy?: "linear" | "exponential";
  backoffDelay?: string;
  timeout?: string;
  format?: "json" | "binary";
}

/** A Subscriptions API filter: exactly one dialect is set. */
interface SubscriptionsAPIFilter {
  exact?: Record<string, string>;
  prefix?: Record<string, string>;
  suffix?: Record<string, string>;
  all?: SubscriptionsAPIFilter[];
  any?: SubscriptionsAPIFilter[];
  not?: SubscriptionsAPIFilter;
  cesql?: string;
}

interface Meta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface BrokerObject {
  apiVersion: "eventing.knative.dev/v1";
  kind: "Broker";
  metadata: Meta;
  spec: { config?: KReference; delivery?: DeliverySpec };
}

interface TriggerObject {
  apiVersion: "eventing.knative.dev/v1";
  kind: "Trigger";
  metadata: Meta;
  spec: {
    /** Exactly one of broker and brokerRef (the webhook checks it). */
    broker?: string;
    brokerRef?: KReference;
    filter: { attributes: Record<string, string> };
    filters?: SubscriptionsAPIFilter[];
    subscriber: Destination;
    delivery?: DeliverySpec;
  };
}

interface PingSourceObject {
  apiVersion: "sources.knative.dev/v1";
  kind: "PingSource";
  metadata: Meta;
  spec: {
    schedule: string;
    timezone?: string;
    contentType?: string;
    data?: string;
    dataBase64?: string;
    sink: Destination;
    ceOverrides?: { extensions?: Record<string, string> };
  };
}

type KnativeObject = BrokerObject | TriggerObject | PingSourceObject;

/** Any other object of a manifest folder: a Knative Service, a SinkBinding, a ConfigMap, or a kind knclaw dev does not run. */
interface OtherObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: unknown;
  [key: string]: unknown;
}

export type ManifestObject = KnativeObject | OtherObject;

export class ManifestError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(
      `invalid Knative manifests (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`,
    );
    this.name = "ManifestError";
    this.problems = problems;
  }
}

export interface ParseManifestsOptions extends Partial<WebhookOptions> {
  /** Name of the source for messages (a file path). */
  source?: string;
  /** Namespace for objects that name none (kubectl's current namespace). */
  defaultNamespace?: string;
}

/**
 * The kinds knclaw dev acts on, by `group/kind`, with the versions it reads (cli/dev/objects.ts sorts them): Knative
 * Services run when they say how (`knclaw.dev/entry`) and are listed as not run otherwise; ConfigMaps feed env vars
 * and, for `knative-eventing/config-features`, the feature flags.
 */
const RUN_KINDS: Record<string, readonly string[]> = {
  "eventing.knative.dev/Broker": ["v1"],
  "eventing.knative.dev/Trigger": ["v1"],
  "sources.knative.dev/PingSource": ["v1"],
  "sources.knative.dev/SinkBinding": ["v1"],
  "serving.knative.dev/Service": ["v1"],
  "/ConfigMap": ["v1"],
  // Who may post to the Brokers: enforced by knclaw dev's ingress when OIDC is on (cli/dev/oidc.ts).
  "eventing.knative.dev/EventPolicy": ["v1alpha1"],
};

function groupKind(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf("/");
  return `${slash >= 0 ? apiVersion.slice(0, slash) : ""}/${kind}`;
}

/** Whether knclaw dev acts on objects of this apiVersion and kind (others are admitted and listed as not run). */
export function isRunKind(apiVersion: string, kind: string): boolean {
  return RUN_KINDS[groupKind(apiVersion, kind)]?.includes(apiVersion.slice(apiVersion.indexOf("/") + 1)) === true;
}

/** The objects of a manifest folder and the warnings found in them (errors are thrown as a ManifestError). */
export interface LoadedManifests {
  objects: ManifestObject[];
  warnings: Problem[];
  /** The webhook settings the folder was checked with: the options, then its config-features ConfigMap. */
  webhook: WebhookOptions;
}

/** Parse YAML text holding Kubernetes objects; throws ManifestError on any error. */
export function parseManifests(text: string, options: ParseManifestsOptions = {}): ManifestObject[] {
  const problems: Problem[] = [];
  const docs = readDocuments(text, options.source ?? "(manifests)", problems);
  const objects = checkDocuments(docs, options, problems).objects;
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new ManifestError(errors);
  return objects;
}

/** Every .yaml/.yml/.json file under `dir` (sorted, recursive), parsed together; errors from all files at once. */
export function loadManifestDir(dir: string, options: Omit<ParseManifestsOptions, "source"> = {}): LoadedManifests {
  const problems: Problem[] = [];
  const docs: Document[] = [];
  for (const file of listFiles(dir)) docs.push(...readDocuments(readFileSync(file, "utf8"), file, problems));
  const { objects, webhook } = checkDocuments(docs, options, problems);
  const seen = new Map<string, string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) {
      problems.push({
        severity: "error",
        object: id,
        path: "",
        rule: "duplicate-object",
        message: `defined twice (also in ${seen.get(id)})`,
      });
    }
    seen.set(id, "an earlier document");
  }
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new ManifestError(errors);
  return { objects, warnings: problems, webhook };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (/\.(ya?ml|json)$/.test(entry)) out.push(path);
  }
  return out;
}

/** One YAML document that holds a mapping, and where it came from (`file#n`). */
interface Document {
  value: Record<string, unknown>;
  where: string;
}

function readDocuments(text: string, source: string, problems: Problem[]): Document[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Document[] = [];
  list.forEach((doc, index) => {
    const where = `${source}#${index + 1}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        problems.push({
          severity: "error",
          object: "(yaml)",
          path: "",
          rule: "yaml-syntax",
          message: e.message.split("\n")[0]!,
          source: pos ? `${source}:${pos.line}:${pos.col}` : where,
        });
      }
      return;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document
    if (!isObject(value)) {
      problems.push({
        severity: "error",
        object: "(document)",
        path: "",
        rule: "schema",
        message: "a document must be a Kubernetes object",
        source: where,
      });
      return;
    }
    out.push({ value, where });
  });
  return out;
}

/**
 * The features a cluster's `knative-eventing/config-features` ConfigMap sets, when the manifests hold one (the Knative
 * docs enable a feature that way, e.g. cross-namespace-event-links): its settings apply to the whole folder, as they
 * would to the cluster. Only the features knclaw dev acts on are read; `allowed` counts as enabled.
 */
const FEATURE_KEYS: Partial<Record<keyof WebhookOptions, string>> = {
  crossNamespaceEventLinks: "cross-namespace-event-links",
  newTriggerFilters: "new-trigger-filters",
};

function featuresOf(docs: readonly Document[]): Partial<WebhookOptions> {
  const config = docs.find(
    ({ value }) =>
      value.apiVersion === "v1" &&
      value.kind === "ConfigMap" &&
      isObject(value.metadata) &&
      value.metadata.name === "config-features" &&
      value.metadata.namespace === "knative-eventing",
  );
  const data = config && isObject(config.value.data) ? config.value.data : {};
  const out: Record<string, boolean> = {};
  for (const [option, key] of Object.entries(FEATURE_KEYS)) {
    const value = data[key];
    if (value === "enabled" || value === "allowed") out[option] = true;
    else if (value === "disabled") out[option] = false;
  }
  return out as Partial<WebhookOptions>;
}

function checkDocuments(
  docs: readonly Document[],
  options: ParseManifestsOptions,
  problems: Problem[],
): { objects: ManifestObject[]; webhook: WebhookOptions } {
  // Knative's defaults, then the folder's config-features, then what the caller says (a command-line flag wins).
  const webhook: WebhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...featuresOf(docs) };
  for (const key of Object.keys(DEFAULT_WEBHOOK_OPTIONS) as (keyof WebhookOptions)[]) {
    if (options[key] !== undefined) (webhook as unknown as Record<string, unknown>)[key] = options[key];
  }
  const objects: ManifestObject[] = [];
  for (const { value, where } of docs) {
    const object = checkDocument(value, where, webhook, options.defaultNamespace ?? "default", problems);
    if (object !== undefined) objects.push(object);
  }
  return { objects, webhook };
}

function checkDocument(
  value: Record<string, unknown>,
  where: string,
  webhook: WebhookOptions,
  defaultNamespace: string,
  problems: Problem[],
): ManifestObject | undefined {
  const apiVersion = typeof value.apiVersion === "string" ? value.apiVersion : "";
  const kind = typeof value.kind === "string" ? value.kind : "";
  const served = RUN_KINDS[groupKind(apiVersion, kind)];
  if (apiVersion !== "" && kind !== "" && !isRunKind(apiVersion, kind)) {
    if (served !== undefined) {
      const group = groupKind(apiVersion, kind).split("/")[0]!;
      problems.push({
        severity: "error",
        object: objectId(value),
        path: "apiVersion",
        rule: "api-version",
        message: `${apiVersion} ${kind} is not served; use ${group ? `${group}/` : ""}${served[0]}`,
        source: where,
      });
      return undefined;
    }
    // Admitted as a cluster with this kind's CRD would (its schema when one is known, its metadata), never run:
    // knclaw dev lists it as not run (isRunKind), so no warning repeats that here.
    const found = validateObject(value, webhook, {}, where).filter(
      (p) => p.rule !== "schema" || p.severity === "error",
    );
    problems.push(...found);
    return found.some((p) => p.severity === "error") ? undefined : (value as unknown as OtherObject);
  }
  const found = validateObject(value, webhook, {}, where);
  problems.push(...found);
  if (found.some((p) => p.severity === "error")) return undefined;
  return applyDefaults(value, defaultNamespace);
}

function applyDefaults(value: Record<string, unknown>, defaultNamespace: string): ManifestObject {
  const object = structuredClone(value) as Record<string, unknown> & {
    metadata: Record<string, unknown>;
    spec?: Record<string, unknown>;
  };
  const namespace = typeof object.metadata.namespace === "string" ? object.metadata.namespace : defaultNamespace;
  object.metadata = {
    labels: {},
    annotations: {},
    ...object.metadata,
    namespace,
  };
  if (object.kind === "ConfigMap") return object as unknown as ManifestObject;
  object.spec ??= {};
  const spec = object.spec;
  const defaultRef = (dest: unknown) => {
    if (isObject(dest) && isObject(dest.ref) && typeof dest.ref.namespace !== "string") dest.ref.namespace = namespace;
  };
  if (object.kind === "Trigger") {
    if (!isObject(spec.filter)) spec.filter = {};
    const filter = spec.filter as Record<string, unknown>;
    if (!isObject(filter.attributes)) filter.attributes = {};
    defaultRef(spec.subscriber);
    if (isObject(spec.delivery)) defaultRef(spec.delivery.deadLetterSink);
  } else if (object.kind === "PingSource") {
    if (typeof spec.schedule !== "string" || spec.schedule === "") spec.schedule = DEFAULT_PING_SCHEDULE;
    defaultRef(spec.sink);
  } else if (object.kind === "SinkBinding") {
    defaultRef(spec.sink);
  } else if (object.kind === "Broker") {
    if (isObject(spec.delivery)) defaultRef(spec.delivery.deadLetterSink);
    if (isObject(spec.config) && typeof spec.config.namespace !== "string") spec.config.namespace = namespace;
  }
  return object as unknown as ManifestObject;
}
