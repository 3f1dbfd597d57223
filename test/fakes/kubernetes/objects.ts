/**
 * Kubernetes objects as the API server returns them (field names, nesting and string formats of real responses),
 * built for the fake API server's store. Each builder takes the few fields a test varies.
 */
import { randomUUID } from "node:crypto";

type Obj = Record<string, unknown>;

const CREATED = "2026-01-10T08:00:00Z";

function meta(namespace: string | undefined, name: string, extra: Obj = {}): Obj {
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    uid: randomUUID(),
    resourceVersion: "1",
    generation: 1,
    creationTimestamp: CREATED,
    ...extra,
  };
}

export interface ContainerState {
  name: string;
  image?: string;
  ready: boolean;
  restartCount?: number;
  state?: Obj;
  lastState?: Obj;
}

export function pod(
  namespace: string,
  name: string,
  options: {
    phase?: string;
    containers?: ContainerState[];
    initContainers?: ContainerState[];
    conditions?: Obj[];
    labels?: Record<string, string>;
    nodeName?: string;
    owner?: { kind: string; name: string };
    reason?: string;
    message?: string;
    deletionTimestamp?: string;
  } = {},
): Obj {
  const containers = options.containers ?? [
    { name: "app", ready: true, state: { running: { startedAt: "2026-01-10T08:00:05Z" } } },
  ];
  const ready = containers.every((c) => c.ready);
  const status: Obj = {
    phase: options.phase ?? "Running",
    conditions: options.conditions ?? [
      { type: "PodReadyToStartContainers", status: "True", lastTransitionTime: CREATED },
      { type: "Initialized", status: "True", lastTransitionTime: CREATED },
      {
        type: "Ready",
        status: ready ? "True" : "False",
        lastTransitionTime: CREATED,
        ...(ready
          ? {}
          : {
              reason: "ContainersNotReady",
              message: `containers with unready status: [${containers
                .filter((c) => !c.ready)
                .map((c) => c.name)
                .join(" ")}]`,
            }),
      },
      {
        type: "ContainersReady",
        status: ready ? "True" : "False",
        lastTransitionTime: CREATED,
        ...(ready ? {} : { reason: "ContainersNotReady" }),
      },
      { type: "PodScheduled", status: "True", lastTransitionTime: CREATED },
    ],
    hostIP: "10.0.0.11",
    podIP: "10.244.1.17",
    podIPs: [{ ip: "10.244.1.17" }],
    startTime: CREATED,
    qosClass: "Burstable",
    containerStatuses: containers.map((c) => containerStatus(c)),
  };
  if (options.initContainers) status.initContainerStatuses = options.initContainers.map((c) => containerStatus(c));
  if (options.reason) status.reason = options.reason;
  if (options.message) status.message = options.message;
  const metadata = meta(namespace, name, {
    labels: options.labels ?? { app: name.replace(/-[a-z0-9]+-[a-z0-9]+$/, "") },
    annotations: {
      "kubectl.kubernetes.io/last-applied-configuration":
        '{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"env":[{"name":"API_KEY","value":"sk-live-not-for-the-model"}]}]}}',
    },
    ...(options.owner
      ? {
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: options.owner.kind,
              name: options.owner.name,
              uid: randomUUID(),
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        }
      : {}),
    ...(options.deletionTimestamp
      ? { deletionTimestamp: options.deletionTimestamp, deletionGracePeriodSeconds: 30 }
      : {}),
  });
  return {
    metadata,
    spec: {
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image ?? "registry.example.com/app:1.4.2",
        ports: [{ containerPort: 8080, protocol: "TCP" }],
        env: [
          { name: "API_KEY", value: "sk-live-not-for-the-model" },
          { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
        ],
        resources: { requests: { cpu: "100m", memory: "128Mi" } },
        readinessProbe: {
          httpGet: { path: "/readyz", port: 8080, scheme: "HTTP" },
          periodSeconds: 10,
          failureThreshold: 3,
        },
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "File",
        imagePullPolicy: "IfNotPresent",
      })),
      ...(options.initContainers
        ? { initContainers: options.initContainers.map((c) => ({ name: c.name, image: c.image ?? "busybox:1.36" })) }
        : {}),
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      serviceAccountName: "default",
      ...(options.nodeName === undefined && options.phase === "Pending"
        ? {}
        : { nodeName: options.nodeName ?? "node-a" }),
      schedulerName: "default-scheduler",
    },
    status,
  };
}

function containerStatus(c: ContainerState): Obj {
  return {
    name: c.name,
    image: c.image ?? "registry.example.com/app:1.4.2",
    imageID: "registry.example.com/app@sha256:5b0a3e1e6f0f1e6b1c8f7d2b3c4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f",
    containerID: "containerd://8a1f2c3d4e5f",
    ready: c.ready,
    started: c.ready,
    restartCount: c.restartCount ?? 0,
    state: c.state ?? { running: { startedAt: "2026-01-10T08:00:05Z" } },
    lastState: c.lastState ?? {},
  };
}

export function deployment(
  namespace: string,
  name: string,
  options: { replicas?: number; ready?: number; labels?: Record<string, string>; image?: string } = {},
): Obj {
  const replicas = options.replicas ?? 3;
  const ready = options.ready ?? replicas;
  const labels = options.labels ?? { app: name };
  return {
    metadata: meta(namespace, name, {
      labels,
      annotations: { "deployment.kubernetes.io/revision": "4" },
    }),
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, creationTimestamp: null },
        spec: {
          containers: [
            {
              name: "app",
              image: options.image ?? "registry.example.com/app:1.4.2",
              env: [{ name: "API_KEY", value: "sk-live-not-for-the-model" }],
            },
          ],
        },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 1,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(ready < replicas ? { unavailableReplicas: replicas - ready } : {}),
      conditions: [
        {
          type: "Available",
          status: ready >= replicas ? "True" : "False",
          reason: ready >= replicas ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
          message:
            ready >= replicas
              ? "Deployment has minimum availability."
              : "Deployment does not have minimum availability.",
          lastUpdateTime: CREATED,
          lastTransitionTime: CREATED,
        },
        {
          type: "Progressing",
          status: "True",
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet "${name}-7d4b9c8f6" has successfully progressed.`,
          lastUpdateTime: CREATED,
          lastTransitionTime: CREATED,
        },
      ],
    },
  };
}

export function statefulSet(namespace: string, name: string, options: { replicas?: number; ready?: number } = {}): Obj {
  const replicas = options.replicas ?? 3;
  const ready = options.ready ?? replicas;
  return {
    metadata: meta(namespace, name, { labels: { app: name } }),
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "db", image: "postgres:16.4" }] } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      podManagementPolicy: "OrderedReady",
    },
    status: {
      observedGeneration: 1,
      replicas,
      readyReplicas: ready,
      currentReplicas: replicas,
      updatedReplicas: replicas,
      availableReplicas: ready,
      currentRevision: `${name}-6c8d7f9b5`,
      updateRevision: `${name}-6c8d7f9b5`,
      collisionCount: 0,
    },
  };
}

export function service(
  namespace: string,
  name: string,
  options: { type?: string; selector?: Record<string, string> } = {},
): Obj {
  return {
    metadata: meta(namespace, name, { labels: { app: name } }),
    spec: {
      type: options.type ?? "ClusterIP",
      clusterIP: "10.96.14.3",
      clusterIPs: ["10.96.14.3"],
      ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 8080 }],
      selector: options.selector ?? { app: name },
      sessionAffinity: "None",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      internalTrafficPolicy: "Cluster",
    },
    status: { loadBalancer: {} },
  };
}

export function node(
  name: string,
  options: { ready?: boolean; unschedulable?: boolean; taints?: Obj[]; role?: string; pressure?: string } = {},
): Obj {
  const ready = options.ready ?? true;
  return {
    metadata: meta(undefined, name, {
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        ...(options.role ? { [`node-role.kubernetes.io/${options.role}`]: "" } : {}),
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" },
    }),
    spec: {
      podCIDR: "10.244.1.0/24",
      ...(options.unschedulable ? { unschedulable: true } : {}),
      ...(options.taints ? { taints: options.taints } : {}),
    },
    status: {
      capacity: { cpu: "4", memory: "16331164Ki", pods: "110" },
      allocatable: { cpu: "3800m", memory: "15204764Ki", pods: "110" },
      conditions: [
        {
          type: "MemoryPressure",
          status: options.pressure === "MemoryPressure" ? "True" : "False",
          reason: "KubeletHasSufficientMemory",
          message: "kubelet has sufficient memory available",
          lastHeartbeatTime: CREATED,
          lastTransitionTime: CREATED,
        },
        {
          type: "DiskPressure",
          status: options.pressure === "DiskPressure" ? "True" : "False",
          reason: "KubeletHasNoDiskPressure",
          message: "kubelet has no disk pressure",
          lastHeartbeatTime: CREATED,
          lastTransitionTime: CREATED,
        },
        {
          type: "Ready",
          status: ready ? "True" : "Unknown",
          reason: ready ? "KubeletReady" : "NodeStatusUnknown",
          message: ready ? "kubelet is posting ready status" : "Kubelet stopped posting node status.",
          lastHeartbeatTime: CREATED,
          lastTransitionTime: CREATED,
        },
      ],
      addresses: [
        { type: "InternalIP", address: "10.0.0.11" },
        { type: "Hostname", address: name },
      ],
      nodeInfo: {
        kubeletVersion: "v1.33.2",
        containerRuntimeVersion: "containerd://2.0.5",
        osImage: "Ubuntu 24.04.2 LTS",
        kernelVersion: "6.8.0-60-generic",
        architecture: "amd64",
        operatingSystem: "linux",
      },
    },
  };
}

export function event(
  namespace: string,
  involved: { kind: string; name: string; apiVersion?: string },
  reason: string,
  message: string,
  options: { type?: "Normal" | "Warning"; count?: number; component?: string; lastTimestamp?: string } = {},
): Obj {
  const suffix = randomUUID().replace(/-/g, "").slice(0, 16);
  return {
    metadata: meta(namespace, `${involved.name}.${suffix}`),
    involvedObject: {
      kind: involved.kind,
      namespace,
      name: involved.name,
      uid: randomUUID(),
      apiVersion: involved.apiVersion ?? "v1",
      resourceVersion: "1",
    },
    reason,
    message,
    source: { component: options.component ?? "kubelet", host: "node-a" },
    firstTimestamp: CREATED,
    lastTimestamp: options.lastTimestamp ?? "2026-01-10T08:05:00Z",
    count: options.count ?? 1,
    type: options.type ?? "Normal",
    eventTime: null,
    reportingComponent: options.component ?? "kubelet",
    reportingInstance: "node-a",
  };
}

export function secret(namespace: string, name: string): Obj {
  return {
    metadata: meta(namespace, name),
    type: "Opaque",
    data: { password: Buffer.from("hunter2").toString("base64") },
  };
}
