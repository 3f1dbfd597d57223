import { createHash } from "node:crypto";

/**
 * The names Knative Eventing's OIDC feature gives things, for whoever must agree with a cluster on them: the renderer
 * (audiences on Triggers and functions, EventPolicy subjects) and `knclaw dev` (the tokens it mints).
 */

/** An object as Knative's naming rules see it: API group (not version), kind, namespace, name. */
export interface KnativeObjectName {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * The OIDC audience of an object, `<group>/<kind>/<namespace>/<name>` lowercased (knative/eventing pkg/auth/audience.go,
 * GetAudience): what a Broker announces in `status.address.audience` and what its senders' tokens must carry.
 */
export function knativeAudience(object: KnativeObjectName): string {
  return `${object.group}/${object.kind}/${object.namespace}/${object.name}`.toLowerCase();
}

/** The `sub` of a ServiceAccount's token, as Kubernetes issues it and EventPolicies name it. */
export function serviceAccountSubject(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * The ServiceAccount Knative creates as the OIDC identity of a Trigger, a PingSource or another sender
 * (pkg/auth/serviceaccount.go, GetOIDCServiceAccountNameForResource): the object's name with the suffix
 * `-oidc-<group>-<Kind>`, shortened by knative.dev/pkg kmeta.ChildName when longer than 63 characters, lowercased.
 * A Trigger delivers to its subscriber, and sends its subscriber's replies back to the Broker, as this identity.
 */
export function knativeOidcServiceAccount(object: Pick<KnativeObjectName, "group" | "kind" | "name">): string {
  return childName(object.name, `-oidc-${object.group}-${object.kind}`).toLowerCase();
}

const LONGEST = 63;
const MD5_HEX = 32;
const HEAD = LONGEST - MD5_HEX;

/**
 * kmeta.ChildName (knative.dev/pkg/kmeta/names.go): `parent + suffix` when it fits in 63 characters; otherwise the
 * parent is cut and an md5 of it (or, for a suffix longer than 30, of parent and suffix) keeps the name unique.
 */
function childName(parent: string, suffix: string): string {
  if (parent.length <= LONGEST - suffix.length) return parent + suffix;
  if (HEAD - suffix.length <= 0) {
    const hash = md5(parent + suffix);
    let name = parent.slice(0, HEAD) + hash;
    if (name.length < LONGEST) name += suffix.slice(0, LONGEST - name.length);
    return name.replace(/[^a-zA-Z0-9]+$/, "");
  }
  return parent.slice(0, HEAD - suffix.length) + md5(parent) + suffix;
}

function md5(text: string): string {
  // Knative's choice, for names only: nothing here is secret or needs collision resistance against an attacker.
  return createHash("md5").update(text).digest("hex");
}
