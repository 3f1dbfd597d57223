/**
 * What `knclaw deploy` owns on a cluster, and how it finds it again: every object it applies carries
 * `app.kubernetes.io/managed-by: knclaw` and `knclaw.dev/platform: <namespace>.<name>` (the platform's identity: two
 * platforms of the same name in different namespaces never touch each other's objects). Pruning and `knclaw delete`
 * select by both labels, among the kinds knclaw renders and nothing else.
 */
import { createHash } from "node:crypto";
import type { PlatformConfig } from "../config/schema.ts";

export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGER = "knclaw";
export const LABEL_PLATFORM = "knclaw.dev/platform";

/** The label value naming one platform: `<namespace>.<name>`, or a digest of it when longer than a label allows. */
export function platformId(config: { metadata: Pick<PlatformConfig["metadata"], "name" | "namespace"> }): string {
  const id = `${config.metadata.namespace}.${config.metadata.name}`;
  return id.length <= 63 ? id : `p-${createHash("sha256").update(id).digest("hex").slice(0, 40)}`;
}

export function ownerSelector(platform: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_PLATFORM}=${platform}`;
}

/** A copy of the object carrying the ownership labels (the rendered objects are left as they are). */
export function withOwnerLabels<T extends { metadata: { labels?: Record<string, string> } }>(
  object: T,
  platform: string,
): T {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      labels: { ...object.metadata.labels, [LABEL_MANAGED_BY]: MANAGER, [LABEL_PLATFORM]: platform },
    },
  };
}

export interface ManagedKind {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
}

/**
 * Every kind knclaw applies, in apply order: the namespace, then configuration and identities, then the data store,
 * then Knative's objects (EventPolicies before the Broker they protect, so with OIDC on it never runs unprotected; the
 * Broker before the ksvcs whose dead-letter sink it names, SinkBindings on the ksvcs, Triggers and PingSources last
 * since they point at the Broker and the ksvcs). Deletion runs in reverse.
 */
export const MANAGED_KINDS: readonly ManagedKind[] = [
  { apiVersion: "v1", kind: "Namespace", namespaced: false },
  { apiVersion: "v1", kind: "Secret", namespaced: true },
  { apiVersion: "v1", kind: "ConfigMap", namespaced: true },
  { apiVersion: "v1", kind: "ServiceAccount", namespaced: true },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", namespaced: false },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", namespaced: false },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespaced: true },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespaced: true },
  { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", namespaced: true },
  { apiVersion: "v1", kind: "Service", namespaced: true },
  { apiVersion: "apps/v1", kind: "StatefulSet", namespaced: true },
  { apiVersion: "eventing.knative.dev/v1alpha1", kind: "EventPolicy", namespaced: true },
  { apiVersion: "eventing.knative.dev/v1", kind: "Broker", namespaced: true },
  { apiVersion: "serving.knative.dev/v1", kind: "Service", namespaced: true },
  { apiVersion: "sources.knative.dev/v1", kind: "SinkBinding", namespaced: true },
  { apiVersion: "eventing.knative.dev/v1", kind: "Trigger", namespaced: true },
  { apiVersion: "sources.knative.dev/v1", kind: "PingSource", namespaced: true },
];

const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");

function kindRank(object: { apiVersion?: string; kind?: string }): number {
  const index = MANAGED_KINDS.findIndex(
    (k) => k.kind === object.kind && group(k.apiVersion) === group(object.apiVersion ?? ""),
  );
  return index < 0 ? MANAGED_KINDS.length : index;
}

/** Objects in apply order (stable inside one kind). */
export function applyOrder<T extends { apiVersion?: string; kind?: string }>(objects: readonly T[]): T[] {
  return objects
    .map((object, index) => ({ object, index }))
    .sort((a, b) => kindRank(a.object) - kindRank(b.object) || a.index - b.index)
    .map(({ object }) => object);
}

/** One object's identity on the cluster: group (not version), kind, namespace, name. */
export function objectKey(object: {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}): string {
  return `${group(object.apiVersion ?? "")}/${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
}

/** `Kind/namespace/name` with the API group for Knative's kinds, whose names collide with core ones (Service). */
export function describeObject(object: {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}): string {
  const g = group(object.apiVersion ?? "");
  const kind = g.endsWith("knative.dev") ? `${object.kind}.${g.split(".")[0]}` : object.kind;
  const ns = object.metadata?.namespace ? `${object.metadata.namespace}/` : "";
  return `${kind}/${ns}${object.metadata?.name}`;
}
