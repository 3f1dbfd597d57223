import { knativeAudience } from "../../runtime/knative-oidc.ts";
import { isRecord, ObjectError } from "./objects.ts";

/**
 * Knative Destinations (duckv1.Destination): `ref`, `uri`, or both with `uri` relative to the ref's address.
 * Refs resolve to the addresses the objects have on a cluster; the dev runtime routes those URLs locally.
 */
export const BROKER_INGRESS_HOST = "broker-ingress.knative-eventing.svc.cluster.local";

function clusterServiceUrl(name: string, namespace: string): string {
  return `http://${name}.${namespace}.svc.cluster.local`;
}

export function brokerIngressUrl(namespace: string, broker: string): string {
  return `http://${BROKER_INGRESS_HOST}/${namespace}/${broker}`;
}

interface RefKind {
  group: string;
  kind: string;
  address: (name: string, namespace: string) => string;
}

const ADDRESSABLE: RefKind[] = [
  { group: "serving.knative.dev", kind: "Service", address: clusterServiceUrl },
  { group: "", kind: "Service", address: clusterServiceUrl },
  { group: "eventing.knative.dev", kind: "Broker", address: (name, ns) => brokerIngressUrl(ns, name) },
];

/** Resolve a Destination to an absolute URL; throws ObjectError naming `path` and the rule. */
export function resolveDestination(value: unknown, namespace: string, object: string, path: string): string {
  if (!isRecord(value)) throw new ObjectError(object, path, "destination", "must be an object with ref and/or uri");
  const { ref, uri } = value;
  if (ref === undefined && uri === undefined)
    throw new ObjectError(object, path, "destination", "expected at least one of ref, uri");
  if (uri !== undefined && (typeof uri !== "string" || uri === "")) {
    throw new ObjectError(object, `${path}.uri`, "destination-uri", "must be a non-empty string");
  }
  if (ref === undefined) {
    const url = parseUrl(uri as string);
    if (!url?.host || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new ObjectError(
        object,
        `${path}.uri`,
        "destination-uri",
        `${JSON.stringify(uri)} must be an absolute http(s) URL when no ref is given`,
      );
    }
    return url.href;
  }
  const base = resolveRef(ref, namespace, object, `${path}.ref`);
  if (uri === undefined) return base;
  if (parseUrl(uri as string)) {
    throw new ObjectError(object, `${path}.uri`, "destination-uri", "must be a relative URI when ref is set");
  }
  return new URL(uri as string, `${base}/`.replace(/\/+$/, "/")).href;
}

/**
 * The OIDC audience a delivery to a Destination carries, as Knative's resolver gives it
 * (knative.dev/pkg resolver.AddressableFromDestinationV1): the Destination's own `audience` when set ("this need only
 * be set if the target is not an Addressable"); else the one the referenced object announces in
 * `status.address.audience`, Knative's `<group>/<kind>/<namespace>/<name>` (pkg/auth/audience.go): a Broker's, and,
 * under knclaw dev, a Knative Service's (on a cluster Serving announces none, which is why the renderer writes the
 * audience into every Trigger to a knclaw function). A URI, or a Kubernetes Service, has none: no token is sent.
 * Undefined when there is none.
 */
export function destinationAudience(
  value: unknown,
  namespace: string,
  object: string,
  path: string,
): string | undefined {
  if (!isRecord(value)) return undefined;
  const { audience, ref } = value;
  if (audience !== undefined && audience !== null) {
    if (typeof audience !== "string")
      throw new ObjectError(object, `${path}.audience`, "destination-audience", "must be a string");
    if (audience !== "") return audience;
  }
  if (!isRecord(ref) || typeof ref.apiVersion !== "string" || typeof ref.name !== "string") return undefined;
  const group = ref.apiVersion.includes("/") ? ref.apiVersion.slice(0, ref.apiVersion.indexOf("/")) : "";
  const announced =
    (group === "eventing.knative.dev" && ref.kind === "Broker") ||
    (group === "serving.knative.dev" && ref.kind === "Service");
  if (!announced) return undefined;
  const ns = typeof ref.namespace === "string" && ref.namespace !== "" ? ref.namespace : namespace;
  return knativeAudience({ group, kind: ref.kind as string, namespace: ns, name: ref.name });
}

function resolveRef(ref: unknown, namespace: string, object: string, path: string): string {
  if (!isRecord(ref)) throw new ObjectError(object, path, "destination-ref", "must be an object");
  const { apiVersion, kind, name } = ref;
  if (typeof kind !== "string" || kind === "")
    throw new ObjectError(object, `${path}.kind`, "destination-ref", "required");
  if (typeof name !== "string" || name === "")
    throw new ObjectError(object, `${path}.name`, "destination-ref", "required");
  if (typeof apiVersion !== "string" || apiVersion === "") {
    throw new ObjectError(object, `${path}.apiVersion`, "destination-ref", "required");
  }
  const ns = typeof ref.namespace === "string" && ref.namespace !== "" ? ref.namespace : namespace;
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  const match = ADDRESSABLE.find((candidate) => candidate.group === group && candidate.kind === kind);
  if (!match) {
    throw new ObjectError(
      object,
      path,
      "destination-ref",
      `cannot resolve ${kind} (${apiVersion}): the dev runtime addresses Knative Services, Kubernetes Services and Brokers; use uri for anything else`,
    );
  }
  return match.address(name, ns);
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
