import {
  describeObject,
  isRecord,
  type KnativeObject,
  namespaceOf,
  ObjectError,
} from "../../eventing/broker/objects.ts";

/**
 * The objects `knclaw dev` acts on, sorted by what they are. Everything else a render contains (Namespaces,
 * ServiceAccounts, RBAC, NetworkPolicies) only matters on a cluster and is skipped. Secrets never get here:
 * knclaw does not render them and the validator refuses them (see secrets.ts for where values come from).
 */
export interface DevObjects {
  brokers: KnativeObject[];
  triggers: KnativeObject[];
  pingSources: KnativeObject[];
  sinkBindings: KnativeObject[];
  services: KnativeObject[];
  configMaps: KnativeObject[];
  /** Who may post to the Brokers, enforced when OIDC is on (cli/dev/oidc.ts). */
  eventPolicies: KnativeObject[];
  ignored: KnativeObject[];
}

const KINDS: Record<string, keyof Omit<DevObjects, "ignored">> = {
  "eventing.knative.dev/Broker": "brokers",
  "eventing.knative.dev/Trigger": "triggers",
  "sources.knative.dev/PingSource": "pingSources",
  "sources.knative.dev/SinkBinding": "sinkBindings",
  "serving.knative.dev/Service": "services",
  "/ConfigMap": "configMaps",
  "eventing.knative.dev/EventPolicy": "eventPolicies",
};

/** Versions the dev runtime reads; an object of a known kind at another version is refused, not guessed at. */
const VERSIONS: Record<string, string[]> = {
  "eventing.knative.dev": ["v1"],
  "sources.knative.dev": ["v1"],
  "serving.knative.dev": ["v1"],
  "": ["v1"],
};

/** Kinds served at other versions than their group's. */
const KIND_VERSIONS: Record<string, string[]> = { "eventing.knative.dev/EventPolicy": ["v1alpha1"] };

export function groupObjectsByKind(objects: readonly KnativeObject[]): DevObjects {
  const sorted: DevObjects = {
    brokers: [],
    triggers: [],
    pingSources: [],
    sinkBindings: [],
    services: [],
    configMaps: [],
    eventPolicies: [],
    ignored: [],
  };
  const seen = new Set<string>();
  for (const object of objects) {
    if (
      !isRecord(object) ||
      typeof object.kind !== "string" ||
      typeof object.apiVersion !== "string" ||
      !isRecord(object.metadata)
    ) {
      throw new ObjectError("(object)", "", "object", "every object needs apiVersion, kind and metadata.name");
    }
    if (typeof object.metadata.name !== "string" || object.metadata.name === "") {
      throw new ObjectError(`${object.kind} (unnamed)`, "metadata.name", "required", "every object needs a name");
    }
    const slash = object.apiVersion.indexOf("/");
    const group = slash >= 0 ? object.apiVersion.slice(0, slash) : "";
    const version = slash >= 0 ? object.apiVersion.slice(slash + 1) : object.apiVersion;
    const bucket = KINDS[`${group}/${object.kind}`];
    if (bucket === undefined) {
      sorted.ignored.push(object);
      continue;
    }
    const versions = KIND_VERSIONS[`${group}/${object.kind}`] ?? VERSIONS[group] ?? [];
    if (!versions.includes(version)) {
      throw new ObjectError(
        describeObject(object),
        "apiVersion",
        "api-version",
        `${object.apiVersion} is not served; use ${group ? `${group}/` : ""}${versions[0]}`,
      );
    }
    const key = `${group}/${object.kind}/${namespaceOf(object)}/${object.metadata.name}`;
    if (seen.has(key))
      throw new ObjectError(describeObject(object), "metadata.name", "duplicate", "defined more than once");
    seen.add(key);
    sorted[bucket].push(object);
  }
  return sorted;
}
