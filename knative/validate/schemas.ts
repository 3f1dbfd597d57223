/**
 * Structural validation against the Kubernetes and Knative OpenAPI schemas shipped by kubernetes-models and
 * @kubernetes-models/knative (Knative CRDs of release 1.10: fields added since, such as Trigger `spec.filters`,
 * are not in them and pass as unknown fields).
 */
import { Broker } from "@kubernetes-models/knative/eventing.knative.dev/v1/Broker";
import { Trigger } from "@kubernetes-models/knative/eventing.knative.dev/v1/Trigger";
import { Service as KnativeService } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";
import { PingSource } from "@kubernetes-models/knative/sources.knative.dev/v1/PingSource";
import { SinkBinding } from "@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service as KubernetesService } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { ProblemSink } from "./problems.ts";

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "v1/ConfigMap": ConfigMap as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/Service": KubernetesService as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole as unknown as ModelClass,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding as unknown as ModelClass,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as ModelClass,
  "apps/v1/StatefulSet": StatefulSet as unknown as ModelClass,
  "serving.knative.dev/v1/Service": KnativeService as unknown as ModelClass,
  "eventing.knative.dev/v1/Broker": Broker as unknown as ModelClass,
  "eventing.knative.dev/v1/Trigger": Trigger as unknown as ModelClass,
  "sources.knative.dev/v1/PingSource": PingSource as unknown as ModelClass,
  "sources.knative.dev/v1/SinkBinding": SinkBinding as unknown as ModelClass,
};

export function hasSchema(apiVersion: string, kind: string): boolean {
  return MODELS[`${apiVersion}/${kind}`] !== undefined;
}

interface AjvError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** Validate one object against its schema; false when no schema is known for its kind. */
export function validateSchema(object: Record<string, unknown>, sink: ProblemSink): boolean {
  const { apiVersion, kind, ...rest } = object;
  const Model = MODELS[`${String(apiVersion)}/${String(kind)}`];
  if (Model === undefined) return false;
  try {
    new Model(rest as never).validate();
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors)) {
      sink.error("", "schema", (error as Error).message);
      return true;
    }
    for (const e of errors) {
      const path = pointerToPath(e.instancePath ?? "");
      const extra = e.keyword === "required" ? ` (${String(e.params?.missingProperty)})` : "";
      sink.error(path, "schema", `${e.message ?? "invalid"}${extra}`);
    }
  }
  return true;
}

/** `/spec/template/spec/containers/0/image` -> `spec.template.spec.containers[0].image`. */
function pointerToPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path === "" ? part : `${path}.${part}`), "");
}
