/**
 * Plain Knative/Kubernetes objects as the renderer emits them and `--manifests` loads them: the dev runtime reads
 * the same objects a cluster would, never a knclaw-specific shape.
 */
export interface KnativeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: unknown;
  [key: string]: unknown;
}

const DEFAULT_NAMESPACE = "default";

export function namespaceOf(object: KnativeObject): string {
  return object.metadata.namespace || DEFAULT_NAMESPACE;
}

/** `Trigger knclaw/agent-ops`: how errors and logs name an object. */
export function describeObject(object: Pick<KnativeObject, "kind" | "metadata">): string {
  return `${object.kind} ${object.metadata.namespace || DEFAULT_NAMESPACE}/${object.metadata.name}`;
}

/** An object the runtime refuses to load: names the object, the field and the rule broken. */
export class ObjectError extends Error {
  readonly object: string;
  readonly path: string;
  readonly rule: string;
  readonly reason: string;
  constructor(object: string, path: string, rule: string, reason: string) {
    super(`${object}: ${path}: ${rule}: ${reason}`);
    this.name = "ObjectError";
    this.object = object;
    this.path = path;
    this.rule = rule;
    this.reason = reason;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
