import type {
  CoreV1Event,
  V1Container,
  V1ContainerStatus,
  V1Deployment,
  V1Node,
  V1Pod,
  V1Service,
  V1StatefulSet,
} from "@kubernetes/client-node";

/**
 * What the model is shown of each object: the fields that answer operational questions, never the whole object.
 * Deliberately absent: container env and envFrom (literal values can be credentials), volumes' secret references,
 * annotations (last-applied-configuration repeats the whole spec, env included), and managedFields.
 */
const iso = (value: Date | string | undefined | null) => (value == null ? undefined : new Date(value).toISOString());

export function podSummary(pod: V1Pod) {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = statuses.filter((s) => s.ready).length;
  const owner = pod.metadata?.ownerReferences?.find((ref) => ref.controller) ?? pod.metadata?.ownerReferences?.[0];
  return compact({
    name: pod.metadata?.name,
    namespace: pod.metadata?.namespace,
    phase: pod.status?.phase,
    ready: `${ready}/${pod.spec?.containers.length ?? statuses.length}`,
    restarts: statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0),
    node: pod.spec?.nodeName,
    podIP: pod.status?.podIP,
    reason: pod.status?.reason,
    terminating: pod.metadata?.deletionTimestamp ? true : undefined,
    owner: owner ? `${owner.kind}/${owner.name}` : undefined,
    created: iso(pod.metadata?.creationTimestamp),
    labels: pod.metadata?.labels,
  });
}

export function podDetail(pod: V1Pod) {
  const specs = new Map((pod.spec?.containers ?? []).map((c) => [c.name, c]));
  return compact({
    ...podSummary(pod),
    message: pod.status?.message,
    qosClass: pod.status?.qosClass,
    serviceAccount: pod.spec?.serviceAccountName,
    conditions: (pod.status?.conditions ?? []).map((c) =>
      compact({ type: c.type, status: c.status, reason: c.reason, message: c.message }),
    ),
    initContainers: (pod.status?.initContainerStatuses ?? []).map((s) => containerDetail(s, undefined)),
    containers: (pod.status?.containerStatuses ?? []).map((s) => containerDetail(s, specs.get(s.name))),
  });
}

function containerDetail(status: V1ContainerStatus, spec: V1Container | undefined) {
  return compact({
    name: status.name,
    image: status.image,
    ready: status.ready,
    restartCount: status.restartCount,
    state: stateText(status.state),
    lastState: stateText(status.lastState),
    ports: spec?.ports?.map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`),
    resources: spec?.resources
      ? compact({ requests: spec.resources.requests, limits: spec.resources.limits })
      : undefined,
  });
}

export function stateText(state: V1ContainerStatus["state"]): string | undefined {
  if (!state) return undefined;
  if (state.running) return `running since ${iso(state.running.startedAt) ?? "?"}`;
  if (state.waiting)
    return `waiting: ${state.waiting.reason ?? "unknown"}${state.waiting.message ? ` (${state.waiting.message})` : ""}`;
  if (state.terminated) {
    const t = state.terminated;
    return `terminated: ${t.reason ?? "unknown"}, exit code ${t.exitCode}${t.signal ? `, signal ${t.signal}` : ""}${t.message ? ` (${t.message})` : ""}`;
  }
  return undefined;
}

export function deploymentSummary(d: V1Deployment) {
  return compact({
    name: d.metadata?.name,
    namespace: d.metadata?.namespace,
    replicas: d.spec?.replicas,
    ready: d.status?.readyReplicas ?? 0,
    updated: d.status?.updatedReplicas ?? 0,
    available: d.status?.availableReplicas ?? 0,
    unavailable: d.status?.unavailableReplicas,
    paused: d.spec?.paused,
    images: d.spec?.template?.spec?.containers.map((c) => c.image),
    created: iso(d.metadata?.creationTimestamp),
  });
}

export function deploymentDetail(d: V1Deployment) {
  return compact({
    ...deploymentSummary(d),
    selector: d.spec?.selector?.matchLabels,
    strategy: d.spec?.strategy?.type,
    generation: d.metadata?.generation,
    observedGeneration: d.status?.observedGeneration,
    conditions: (d.status?.conditions ?? []).map((c) =>
      compact({ type: c.type, status: c.status, reason: c.reason, message: c.message }),
    ),
  });
}

export function statefulSetSummary(s: V1StatefulSet) {
  return compact({
    name: s.metadata?.name,
    namespace: s.metadata?.namespace,
    replicas: s.spec?.replicas,
    ready: s.status?.readyReplicas ?? 0,
    current: s.status?.currentReplicas ?? 0,
    updated: s.status?.updatedReplicas ?? 0,
    images: s.spec?.template?.spec?.containers.map((c) => c.image),
    created: iso(s.metadata?.creationTimestamp),
  });
}

export function statefulSetDetail(s: V1StatefulSet) {
  return compact({
    ...statefulSetSummary(s),
    serviceName: s.spec?.serviceName,
    updateStrategy: s.spec?.updateStrategy?.type,
    podManagementPolicy: s.spec?.podManagementPolicy,
    currentRevision: s.status?.currentRevision,
    updateRevision: s.status?.updateRevision,
  });
}

export function serviceSummary(s: V1Service) {
  return compact({
    name: s.metadata?.name,
    namespace: s.metadata?.namespace,
    type: s.spec?.type,
    clusterIP: s.spec?.clusterIP,
    ports: s.spec?.ports?.map(
      (p) => `${p.name ? `${p.name}:` : ""}${p.port}->${p.targetPort ?? p.port}/${p.protocol ?? "TCP"}`,
    ),
    selector: s.spec?.selector,
    externalIPs: s.spec?.externalIPs,
    loadBalancer: s.status?.loadBalancer?.ingress?.map((i) => i.ip ?? i.hostname),
  });
}

export function eventSummary(e: CoreV1Event) {
  const involved = e.involvedObject;
  return compact({
    type: e.type,
    reason: e.reason,
    object: `${involved.kind}/${involved.name}`,
    message: e.message,
    count: e.count,
    last: iso(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp),
    source: e.source?.component ?? e.reportingComponent,
  });
}

export function eventTime(e: CoreV1Event): number {
  const at = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}

export function nodeSummary(n: V1Node) {
  const ready = n.status?.conditions?.find((c) => c.type === "Ready");
  return compact({
    name: n.metadata?.name,
    ready: ready?.status === "True",
    schedulable: n.spec?.unschedulable !== true,
    roles: Object.keys(n.metadata?.labels ?? {})
      .filter((label) => label.startsWith("node-role.kubernetes.io/"))
      .map((label) => label.slice("node-role.kubernetes.io/".length)),
    taints: n.spec?.taints?.map((t) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`),
    version: n.status?.nodeInfo?.kubeletVersion,
    internalIP: n.status?.addresses?.find((a) => a.type === "InternalIP")?.address,
  });
}

export function nodeDetail(n: V1Node) {
  return compact({
    ...nodeSummary(n),
    // Only conditions that are not in their healthy state are worth the model's attention.
    problems: (n.status?.conditions ?? [])
      .filter((c) => (c.type === "Ready" ? c.status !== "True" : c.status !== "False"))
      .map((c) => compact({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    capacity: n.status?.capacity,
    allocatable: n.status?.allocatable,
    os: n.status?.nodeInfo?.osImage,
    runtime: n.status?.nodeInfo?.containerRuntimeVersion,
  });
}

/** Drop undefined fields and empty lists so results stay small. */
function compact<T extends Record<string, unknown>>(value: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined || field === null) continue;
    if (Array.isArray(field) && field.length === 0) continue;
    out[key] = field;
  }
  return out as Partial<T>;
}
