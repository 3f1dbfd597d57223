/**
 * Reading arbitrary Knative YAML (Brokers, Triggers, PingSources) into typed objects with the same checks a cluster
 * would apply: the schemas plus the webhook rules. `knclaw dev --manifests DIR` uses it and refuses to start on any
 * error, naming the file, the object and the rule. Knative's defaulting is applied to what is returned (namespace,
 * PingSource schedule `* * * * *`, ref namespaces).
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
    broker: string;
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

export type KnativeObject = BrokerObject | TriggerObject | PingSourceObject;

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

const SUPPORTED = new Set([
  "eventing.knative.dev/v1/Broker",
  "eventing.knative.dev/v1/Trigger",
  "sources.knative.dev/v1/PingSource",
  // Who may post to the Brokers: enforced by knclaw dev's ingress when OIDC is on (cli/dev/oidc.ts).
  "eventing.knative.dev/v1alpha1/EventPolicy",
]);

/** Parse YAML text holding Brokers, Triggers, PingSources and EventPolicies; throws ManifestError on any error. */
export function parseManifests(text: string, options: ParseManifestsOptions = {}): KnativeObject[] {
  const problems: Problem[] = [];
  const objects = collect(text, options, problems);
  const errors = problems.filter((p) => p.severity === "error");
  if (errors.length > 0) throw new ManifestError(errors);
  return objects;
}

/** Every .yaml/.yml/.json file under `dir` (sorted, recursive), parsed together; errors from all files at once. */
export function loadManifestDir(dir: string, options: Omit<ParseManifestsOptions, "source"> = {}): KnativeObject[] {
  const problems: Problem[] = [];
  const objects: KnativeObject[] = [];
  for (const file of listFiles(dir))
    objects.push(...collect(readFileSync(file, "utf8"), { ...options, source: file }, problems));
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
  return objects;
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

function collect(text: string, options: ParseManifestsOptions, problems: Problem[]): KnativeObject[] {
  const webhook: WebhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS };
  for (const key of Object.keys(DEFAULT_WEBHOOK_OPTIONS) as (keyof WebhookOptions)[]) {
    if (options[key] !== undefined) (webhook as unknown as Record<string, unknown>)[key] = options[key];
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: KnativeObject[] = [];
  const source = options.source ?? "(manifests)";
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
    const key = `${String(value.apiVersion)}/${String(value.kind)}`;
    if (!SUPPORTED.has(key)) {
      problems.push({
        severity: "error",
        object: objectId(value),
        path: "",
        rule: "unsupported-kind",
        message: `${String(value.apiVersion)} ${String(value.kind)} is not supported here (Broker, Trigger, PingSource and EventPolicy are)`,
        source: where,
      });
      return;
    }
    const found = validateObject(value, webhook, {}, where);
    problems.push(...found);
    if (found.some((p) => p.severity === "error")) return;
    out.push(applyDefaults(value, options.defaultNamespace ?? "default"));
  });
  return out;
}

function applyDefaults(value: Record<string, unknown>, defaultNamespace: string): KnativeObject {
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
  } else if (object.kind === "Broker") {
    if (isObject(spec.delivery)) defaultRef(spec.delivery.deadLetterSink);
    if (isObject(spec.config) && typeof spec.config.namespace !== "string") spec.config.namespace = namespace;
  }
  return object as unknown as KnativeObject;
}
