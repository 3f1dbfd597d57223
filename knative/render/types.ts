/** The shape of everything the renderer emits: plain Kubernetes objects, ready for YAML. */

interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface Destination {
  ref?: ObjectReference;
  uri?: string;
  /** The OIDC audience of the token the broker presents to it (Knative's `authentication-oidc`). */
  audience?: string;
}

/** `Kind/name` (with the namespace when set): how problems and files name an object. */
export function objectId(object: { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }): string {
  const kind = typeof object.kind === "string" ? object.kind : "(no kind)";
  const name = typeof object.metadata?.name === "string" ? object.metadata.name : "(no name)";
  const ns = typeof object.metadata?.namespace === "string" ? `${object.metadata.namespace}/` : "";
  return `${kind}/${ns}${name}`;
}
