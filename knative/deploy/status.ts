/**
 * `knclaw status` as a library: every rendered object as the cluster has it (absent, present, its Ready condition with
 * reason and message), and the agent instances as they run: their ksvc's readiness, serving revision and pods.
 */
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { KNATIVE_SERVICE_POD_LABEL, LABEL_INSTANCE } from "../../runtime/names.ts";
import { type ApplyObject, DeployError, readLive } from "./apply.ts";
import { apiMessage } from "./cluster.ts";
import { applyOrder, describeObject } from "./ownership.ts";
import { hasReadyCondition, readiness } from "./readiness.ts";

interface ObjectStatus {
  object: string;
  /** `True`/`False`/`Unknown` for objects with a Ready condition, `absent`, or `present` for the rest. */
  ready: string;
  reason: string;
  message: string;
}

interface InstanceStatus {
  instance: string;
  service: string;
  ready: string;
  revision: string;
  /** Pods of the ksvc that are Ready, out of those that exist (0/0 when scaled to zero). */
  pods: string;
  url: string;
}

export interface PlatformStatus {
  objects: ObjectStatus[];
  instances: InstanceStatus[];
}

export async function platformStatus(
  api: KubernetesObjectApi,
  objects: readonly ApplyObject[],
): Promise<PlatformStatus> {
  const rows: ObjectStatus[] = [];
  const instances: InstanceStatus[] = [];
  for (const object of applyOrder(objects)) {
    const live = await readLive(api, object);
    rows.push(objectStatus(object, live));
    const instance = object.metadata.labels?.[LABEL_INSTANCE];
    const isAgentService =
      object.apiVersion.startsWith("serving.knative.dev/") &&
      object.kind === "Service" &&
      object.metadata.labels?.["knclaw.dev/component"] === "agent";
    if (isAgentService && instance !== undefined) instances.push(await instanceStatus(api, object, instance, live));
  }
  return { objects: rows, instances };
}

function objectStatus(object: ApplyObject, live: KubernetesObject | undefined): ObjectStatus {
  const name = describeObject(object);
  if (live === undefined) return { object: name, ready: "absent", reason: "", message: "" };
  if (hasReadyCondition(object)) {
    const state = readiness(live);
    return { object: name, ready: state.state, reason: state.reason ?? "", message: state.message ?? "" };
  }
  if (object.kind === "StatefulSet") {
    const status = (live as { status?: { readyReplicas?: number; replicas?: number } }).status;
    const want = (live as { spec?: { replicas?: number } }).spec?.replicas ?? 1;
    const ready = status?.readyReplicas ?? 0;
    return {
      object: name,
      ready: ready >= want ? "True" : "False",
      reason: `${ready}/${want} replicas ready`,
      message: "",
    };
  }
  return { object: name, ready: "present", reason: "", message: "" };
}

async function instanceStatus(
  api: KubernetesObjectApi,
  service: ApplyObject,
  instance: string,
  live: KubernetesObject | undefined,
): Promise<InstanceStatus> {
  const status = (live as { status?: { latestReadyRevisionName?: string; url?: string } } | undefined)?.status;
  let pods = "-";
  if (live !== undefined) {
    try {
      const list = await api.list(
        "v1",
        "Pod",
        service.metadata.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        `${KNATIVE_SERVICE_POD_LABEL}=${service.metadata.name}`,
      );
      const ready = list.items.filter((pod) =>
        (pod as { status?: { conditions?: { type?: string; status?: string }[] } }).status?.conditions?.some(
          (c) => c.type === "Ready" && c.status === "True",
        ),
      ).length;
      pods = `${ready}/${list.items.length}`;
    } catch (error) {
      throw new DeployError(`cannot list the pods of ${describeObject(service)}: ${apiMessage(error)}`);
    }
  }
  return {
    instance,
    service: service.metadata.name,
    ready: live === undefined ? "absent" : readiness(live).state,
    revision: status?.latestReadyRevisionName ?? "-",
    pods,
    url: status?.url ?? "-",
  };
}

/** Rows as aligned columns under a header. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
