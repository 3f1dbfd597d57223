import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { kubernetesOptionsFromEnv } from "../../skills/kubernetes/definition.ts";
import { createKubernetesHandlers, RESTARTED_AT } from "../../skills/kubernetes/handlers.ts";
import { manifest } from "../../skills/kubernetes/manifest.ts";
import { tools } from "../../skills/kubernetes/tools.ts";
import { parseManifest } from "../../skills/package/skill-package.ts";
import { ToolFailure } from "../../skills/runtime/tool-error.ts";
import * as k8s from "../fakes/kubernetes/objects.ts";
import { type FakeKubernetes, startFakeKubernetes } from "../fakes/kubernetes/server.ts";
import { statusFailure } from "../fakes/kubernetes/status.ts";
import { toolContext } from "./support/context.ts";

/**
 * The kubernetes skill driven through @kubernetes/client-node against a fake API server on loopback. The fake's RBAC
 * is set up from the skill's own manifest, exactly as the renderer grants it: the per-instance ServiceAccount holds
 * the manifest's rules in the namespaces the instance is granted, and the skill's own identity may only impersonate.
 */
const PLATFORM_NS = "knclaw";
const SKILL_USER = `system:serviceaccount:${PLATFORM_NS}:skill-kubernetes`;
const sa = (instance: string) => `system:serviceaccount:${PLATFORM_NS}:skill-kubernetes-${instance}`;

let fake: FakeKubernetes;
let handlers: ReturnType<typeof createKubernetesHandlers>;
// biome-ignore lint/suspicious/noExplicitAny: tool results are plain JSON, checked field by field with matchers
type Result = any;
const ctx = (instance = "assistant") => toolContext({ instance, skill: "kubernetes" });

async function failure(promise: Promise<unknown>): Promise<ToolFailure> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ToolFailure);
  return error as ToolFailure;
}

function seed(fake: FakeKubernetes) {
  fake.add(
    "pods",
    k8s.pod("shop", "web-7d4b9c8f6-abcde", {
      labels: { app: "web" },
      owner: { kind: "ReplicaSet", name: "web-7d4b9c8f6" },
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "web-7d4b9c8f6-fghij", {
      labels: { app: "web" },
      owner: { kind: "ReplicaSet", name: "web-7d4b9c8f6" },
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "api-5f6d7c8b9-crash", {
      labels: { app: "api" },
      containers: [
        {
          name: "app",
          ready: false,
          restartCount: 14,
          state: {
            waiting: {
              reason: "CrashLoopBackOff",
              message: "back-off 5m0s restarting failed container=app pod=api-5f6d7c8b9-crash_shop",
            },
          },
          lastState: {
            terminated: {
              reason: "Error",
              exitCode: 1,
              startedAt: "2026-01-10T08:10:00Z",
              finishedAt: "2026-01-10T08:10:02Z",
            },
          },
        },
      ],
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "img-6b7c8d9e0-pull", {
      labels: { app: "img" },
      containers: [
        {
          name: "app",
          image: "registry.example.com/app:does-not-exist",
          ready: false,
          state: {
            waiting: {
              reason: "ImagePullBackOff",
              message: 'Back-off pulling image "registry.example.com/app:does-not-exist"',
            },
          },
        },
      ],
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "big-1", {
      phase: "Pending",
      labels: { app: "big" },
      containers: [{ name: "app", ready: false, state: { waiting: { reason: "ContainerCreating" } } }],
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message:
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
          lastTransitionTime: "2026-01-10T08:00:00Z",
        },
      ],
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "probe-1", {
      labels: { app: "probe" },
      containers: [{ name: "app", ready: false, state: { running: { startedAt: "2026-01-10T08:00:05Z" } } }],
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "oom-1", {
      labels: { app: "oom" },
      containers: [
        {
          name: "app",
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container" } },
          lastState: { terminated: { reason: "OOMKilled", exitCode: 137 } },
        },
      ],
    }),
  );
  fake.add(
    "pods",
    k8s.pod("shop", "multi-1", {
      labels: { app: "multi" },
      containers: [
        { name: "app", ready: true },
        { name: "sidecar", ready: true },
      ],
    }),
  );
  fake.add("pods", k8s.pod("kube-system", "coredns-1", { labels: { app: "coredns" } }));
  fake.add(
    "events",
    k8s.event(
      "shop",
      { kind: "Pod", name: "probe-1" },
      "Unhealthy",
      "Readiness probe failed: HTTP probe failed with statuscode: 503",
      { type: "Warning", count: 42, lastTimestamp: "2026-01-10T08:20:00Z" },
    ),
  );
  fake.add(
    "events",
    k8s.event("shop", { kind: "Pod", name: "probe-1" }, "Started", "Started container app", {
      lastTimestamp: "2026-01-10T08:00:05Z",
    }),
  );
  fake.add(
    "events",
    k8s.event(
      "shop",
      { kind: "Pod", name: "api-5f6d7c8b9-crash" },
      "BackOff",
      "Back-off restarting failed container app in pod api-5f6d7c8b9-crash_shop",
      { type: "Warning", count: 60, lastTimestamp: "2026-01-10T08:30:00Z" },
    ),
  );
  fake.add(
    "events",
    k8s.event(
      "shop",
      { kind: "Pod", name: "big-1" },
      "FailedScheduling",
      "0/3 nodes are available: 3 Insufficient cpu.",
      { type: "Warning", component: "default-scheduler", lastTimestamp: "2026-01-10T08:25:00Z" },
    ),
  );
  fake.add("deployments", k8s.deployment("shop", "web", { replicas: 2 }));
  fake.add("deployments", k8s.deployment("shop", "api", { replicas: 3, ready: 0 }));
  fake.add("deployments", {
    ...k8s.deployment("shop", "frozen", { replicas: 1 }),
    spec: { ...(k8s.deployment("shop", "frozen").spec as object), paused: true },
  });
  fake.add("statefulsets", k8s.statefulSet("shop", "db", { replicas: 3, ready: 2 }));
  fake.add("services", k8s.service("shop", "web"));
  fake.add(
    "nodes",
    k8s.node("node-a", {
      role: "control-plane",
      taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }],
    }),
  );
  fake.add("nodes", k8s.node("node-b", { ready: false, pressure: "MemoryPressure" }));
  fake.add("secrets", k8s.secret("shop", "db"));
  fake.setLog(
    "shop",
    "web-7d4b9c8f6-abcde",
    "app",
    `${Array.from({ length: 500 }, (_, i) => `line ${i + 1}`).join("\n")}\n`,
  );
  fake.setLog("shop", "api-5f6d7c8b9-crash", "app", "panic: connection refused\n", true);
  fake.setLog("shop", "multi-1", "sidecar", "sidecar ready\n");
}

/** What the rendered RBAC gives: the manifest's rules to the per-instance ServiceAccount, in its granted namespaces. */
function grantFromManifest(fake: FakeKubernetes, instance: string, namespaces: string[], cluster: boolean) {
  const needs = parseManifest("kubernetes", manifest).kubernetes!;
  fake.allowImpersonation(SKILL_USER, PLATFORM_NS, `skill-kubernetes-${instance}`);
  for (const namespace of namespaces) {
    for (const rule of needs.rules) {
      for (const group of rule.apiGroups)
        fake.grant({ user: sa(instance), namespace, group, resources: rule.resources, verbs: rule.verbs });
    }
  }
  if (cluster) {
    for (const rule of needs.clusterRules) {
      for (const group of rule.apiGroups)
        fake.grant({ user: sa(instance), group, resources: rule.resources, verbs: rule.verbs });
    }
  }
}

beforeAll(async () => {
  fake = await startFakeKubernetes();
  fake.addToken("skill-token", SKILL_USER);
  seed(fake);
  grantFromManifest(fake, "assistant", ["shop"], false);
  grantFromManifest(fake, "ops", ["shop", "kube-system"], true);
  handlers = createKubernetesHandlers(
    kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("skill-token"), KNCLAW_NAMESPACE: PLATFORM_NS }),
  );
});

afterAll(async () => {
  await fake.close();
});

let mark = 0;
beforeEach(() => {
  mark = fake.requests.length;
});
const sinceMark = () => fake.requests.slice(mark);

describe("reading through @kubernetes/client-node", () => {
  it("lists pods as the calling instance's ServiceAccount, never returning env or annotations", async () => {
    const result = (await handlers.list_pods({ namespace: "shop", labelSelector: "app=web", limit: 100 }, ctx())) as {
      items: Array<Record<string, unknown>>;
      count: number;
    };
    expect(result.count).toBe(2);
    expect(result.items[0]).toMatchObject({
      name: "web-7d4b9c8f6-abcde",
      namespace: "shop",
      phase: "Running",
      ready: "1/1",
      restarts: 0,
      node: "node-a",
      owner: "ReplicaSet/web-7d4b9c8f6",
    });
    const [request] = sinceMark();
    expect(request).toMatchObject({
      method: "GET",
      path: "/api/v1/namespaces/shop/pods",
      query: { labelSelector: "app=web", limit: "100" },
      user: SKILL_USER,
      impersonateUser: sa("assistant"),
      status: 200,
    });
    expect(JSON.stringify(result)).not.toContain("sk-live-not-for-the-model");
  });

  it("pages long lists and filters by phase", async () => {
    const paged = (await handlers.list_pods({ namespace: "shop", limit: 3 }, ctx())) as Record<string, unknown>;
    expect(paged).toMatchObject({ count: 3, more: true, remaining: 5 });
    const pending = (await handlers.list_pods({ namespace: "shop", limit: 100, phase: "Pending" }, ctx())) as {
      items: Array<{ name: string }>;
    };
    expect(pending.items.map((p) => p.name)).toEqual(["big-1"]);
    expect(sinceMark()[1]!.query.fieldSelector).toBe("status.phase=Pending");
  });

  it("gets a pod with container states and conditions", async () => {
    const pod = (await handlers.get_pod({ namespace: "shop", name: "api-5f6d7c8b9-crash" }, ctx())) as Result;
    expect(pod.containers[0]).toMatchObject({
      name: "app",
      ready: false,
      restartCount: 14,
      state: expect.stringMatching(/^waiting: CrashLoopBackOff/),
      lastState: "terminated: Error, exit code 1",
    });
    expect(pod.conditions.find((c: { type: string }) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "ContainersNotReady",
    });
    expect(JSON.stringify(pod)).not.toMatch(/sk-live|DB_PASSWORD|secretKeyRef|last-applied/);
  });

  it("reads deployments, statefulsets, services and events", async () => {
    const deployments = (await handlers.list_deployments({ namespace: "shop", limit: 100 }, ctx())) as {
      items: Result[];
    };
    expect(deployments.items.find((d) => d.name === "api")).toMatchObject({ replicas: 3, ready: 0, unavailable: 3 });
    const web = (await handlers.get_deployment({ namespace: "shop", name: "web" }, ctx())) as Result;
    expect(web).toMatchObject({ replicas: 2, ready: 2, strategy: "RollingUpdate", selector: { app: "web" } });
    const sets = (await handlers.list_statefulsets({ namespace: "shop", limit: 100 }, ctx())) as { items: Result[] };
    expect(sets.items).toEqual([expect.objectContaining({ name: "db", replicas: 3, ready: 2 })]);
    expect(await handlers.get_statefulset({ namespace: "shop", name: "db" }, ctx())).toMatchObject({
      serviceName: "db",
    });
    const services = (await handlers.list_services({ namespace: "shop", limit: 100 }, ctx())) as { items: Result[] };
    expect(services.items[0]).toMatchObject({ name: "web", type: "ClusterIP", ports: ["http:80->8080/TCP"] });
    expect(await handlers.get_service({ namespace: "shop", name: "web" }, ctx())).toMatchObject({
      clusterIP: "10.96.14.3",
    });
    const events = (await handlers.list_events({ namespace: "shop", warningsOnly: true, limit: 10 }, ctx())) as {
      items: Result[];
    };
    expect(events.items.map((e) => e.reason)).toEqual(["BackOff", "FailedScheduling", "Unhealthy"]);
    expect(sinceMark().at(-1)!.query.fieldSelector).toBe("type=Warning");
    const about = (await handlers.list_events(
      { namespace: "shop", kind: "Pod", objectName: "probe-1", warningsOnly: false, limit: 1 },
      ctx(),
    )) as {
      items: Result[];
      total: number;
    };
    expect(about).toMatchObject({ total: 2, items: [{ reason: "Unhealthy", object: "Pod/probe-1", count: 42 }] });
  });

  it("reads logs with tail and byte caps passed to the API server", async () => {
    const tail = (await handlers.pod_logs(
      { namespace: "shop", name: "web-7d4b9c8f6-abcde", tailLines: 3, limitBytes: 65536, previous: false },
      ctx(),
    )) as Record<string, unknown>;
    expect(tail).toMatchObject({ log: "line 498\nline 499\nline 500\n", lines: 3, truncated: false });
    expect(sinceMark()[0]).toMatchObject({
      path: "/api/v1/namespaces/shop/pods/web-7d4b9c8f6-abcde/log",
      query: { tailLines: "3", limitBytes: "65536", previous: "false" },
    });
    const capped = (await handlers.pod_logs(
      { namespace: "shop", name: "web-7d4b9c8f6-abcde", tailLines: 500, limitBytes: 20, previous: false },
      ctx(),
    )) as Record<string, unknown>;
    expect(capped).toMatchObject({ log: "line 1\nline 2\nline 3", truncated: true });
    const previous = (await handlers.pod_logs(
      { namespace: "shop", name: "api-5f6d7c8b9-crash", tailLines: 10, limitBytes: 1000, previous: true },
      ctx(),
    )) as Record<string, unknown>;
    expect(previous.log).toBe("panic: connection refused\n");
  });

  it("asks for a container name when a pod has several (the API server's 400 becomes ValidationFailed)", async () => {
    const error = await failure(
      handlers.pod_logs(
        { namespace: "shop", name: "multi-1", tailLines: 10, limitBytes: 1000, previous: false },
        ctx(),
      ),
    );
    expect(error.errorClass).toBe("ValidationFailed");
    expect(error.message).toBe("a container name must be specified for pod multi-1, choose one of: [app sidecar]");
    const sidecar = (await handlers.pod_logs(
      { namespace: "shop", name: "multi-1", container: "sidecar", tailLines: 10, limitBytes: 1000, previous: false },
      ctx(),
    )) as Record<string, unknown>;
    expect(sidecar.log).toBe("sidecar ready\n");
  });

  it("lists and gets nodes only for an instance granted cluster scope", async () => {
    const nodes = (await handlers.list_nodes({ limit: 100 }, ctx("ops"))) as { items: Result[] };
    expect(nodes.items).toEqual([
      expect.objectContaining({
        name: "node-a",
        ready: true,
        schedulable: true,
        roles: ["control-plane"],
        taints: ["node-role.kubernetes.io/control-plane:NoSchedule"],
      }),
      expect.objectContaining({ name: "node-b", ready: false }),
    ]);
    const sick = (await handlers.get_node({ name: "node-b" }, ctx("ops"))) as Result;
    expect(sick.problems.map((p: { type: string }) => p.type)).toEqual(["MemoryPressure", "Ready"]);
    const denied = await failure(handlers.list_nodes({ limit: 100 }, ctx()));
    expect(denied.errorClass).toBe("PermissionDenied");
    expect(denied.message).toBe(
      `nodes is forbidden: User "${sa("assistant")}" cannot list resource "nodes" in API group "" at the cluster scope`,
    );
  });
});

describe("explaining why a pod is not ready", () => {
  const explain = async (name: string) =>
    (await handlers.explain_pod({ namespace: "shop", name }, ctx())) as {
      ready: boolean;
      summary: string;
      findings: Array<{ severity: string; what: string; detail?: string }>;
      recentWarnings: Result[];
    };

  it("a crash loop, with the last exit", async () => {
    const result = await explain("api-5f6d7c8b9-crash");
    expect(result.ready).toBe(false);
    expect(result.summary).toBe("container app keeps crashing (CrashLoopBackOff, 14 restarts)");
    expect(result.findings[0]!.detail).toBe("last exit: Error, exit code 1");
    expect(result.recentWarnings[0]).toMatchObject({ reason: "BackOff", count: 60 });
  });

  it("an image that cannot be pulled", async () => {
    const result = await explain("img-6b7c8d9e0-pull");
    expect(result.summary).toBe(
      "container app cannot pull its image registry.example.com/app:does-not-exist (ImagePullBackOff)",
    );
  });

  it("a pod that cannot be scheduled", async () => {
    const result = await explain("big-1");
    expect(result.summary).toBe("the pod cannot be scheduled (Unschedulable)");
    expect(result.findings[0]!.detail).toMatch(/^0\/3 nodes are available: 3 Insufficient cpu/);
  });

  it("a failing readiness probe, from the pod's Unhealthy events", async () => {
    const result = await explain("probe-1");
    expect(result.summary).toBe("container app is running but not ready: its readiness probe fails");
    expect(result.findings[0]!.detail).toBe("Readiness probe failed: HTTP probe failed with statuscode: 503");
  });

  it("an OOM kill", async () => {
    const result = await explain("oom-1");
    expect(result.summary).toBe(
      "container app keeps crashing (CrashLoopBackOff, 3 restarts): it is killed for exceeding its memory limit",
    );
  });

  it("a healthy pod", async () => {
    const result = await explain("web-7d4b9c8f6-abcde");
    expect(result).toMatchObject({ ready: true, summary: "the pod is running and ready", findings: [] });
    expect(sinceMark()[1]).toMatchObject({
      path: "/api/v1/namespaces/shop/events",
      query: { fieldSelector: "involvedObject.kind=Pod,involvedObject.name=web-7d4b9c8f6-abcde" },
    });
  });
});

describe("writing", () => {
  it("scales a deployment through the scale subresource with a merge patch", async () => {
    const result = await handlers.scale_deployment({ namespace: "shop", name: "web", replicas: 5 }, ctx());
    expect(result).toEqual({ deployment: "web", namespace: "shop", previousReplicas: 2, replicas: 5 });
    const [get, patch] = sinceMark();
    expect(get).toMatchObject({ method: "GET", path: "/apis/apps/v1/namespaces/shop/deployments/web/scale" });
    expect(patch).toMatchObject({
      method: "PATCH",
      path: "/apis/apps/v1/namespaces/shop/deployments/web/scale",
      contentType: "application/merge-patch+json",
      body: { spec: { replicas: 5 } },
      impersonateUser: sa("assistant"),
      status: 200,
    });
    expect((fake.get("deployments", "shop", "web")!.spec as { replicas: number }).replicas).toBe(5);
  });

  it("restarts a deployment by stamping its pod template, as kubectl rollout restart does", async () => {
    const result = (await createKubernetesHandlers({
      ...kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("skill-token"), KNCLAW_NAMESPACE: PLATFORM_NS }),
      now: () => new Date("2026-02-01T12:00:00Z"),
    }).restart_deployment({ namespace: "shop", name: "web" }, ctx())) as Record<string, unknown>;
    expect(result).toMatchObject({ restartedAt: "2026-02-01T12:00:00.000Z", generation: 2 });
    const patch = sinceMark().find((r) => r.method === "PATCH")!;
    expect(patch).toMatchObject({
      path: "/apis/apps/v1/namespaces/shop/deployments/web",
      contentType: "application/strategic-merge-patch+json",
      body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: "2026-02-01T12:00:00.000Z" } } } } },
    });
    const stored = fake.get("deployments", "shop", "web") as Result;
    expect(stored.spec.template.metadata.annotations[RESTARTED_AT]).toBe("2026-02-01T12:00:00.000Z");
    expect(stored.spec.template.spec.containers[0].image).toBe("registry.example.com/app:1.4.2");
  });

  it("refuses to restart a paused deployment", async () => {
    const error = await failure(handlers.restart_deployment({ namespace: "shop", name: "frozen" }, ctx()));
    expect(error.errorClass).toBe("Conflict");
    expect(sinceMark().some((r) => r.method === "PATCH")).toBe(false);
  });

  it("deletes a pod and says what replaces it", async () => {
    const result = await handlers.delete_pod(
      { namespace: "shop", name: "web-7d4b9c8f6-fghij", gracePeriodSeconds: 0 },
      ctx(),
    );
    expect(result).toEqual({
      deleted: "web-7d4b9c8f6-fghij",
      namespace: "shop",
      replacedBy: "ReplicaSet/web-7d4b9c8f6 will create a replacement",
    });
    expect(sinceMark()[0]).toMatchObject({ method: "DELETE", query: { gracePeriodSeconds: "0" } });
    expect(fake.get("pods", "shop", "web-7d4b9c8f6-fghij")).toBeUndefined();
    expect(
      (await failure(handlers.get_pod({ namespace: "shop", name: "web-7d4b9c8f6-fghij" }, ctx()))).errorClass,
    ).toBe("NotFound");
  });

  it("cordons and uncordons a node, patching only when the state changes", async () => {
    expect(await handlers.cordon_node({ name: "node-b", cordon: true }, ctx("ops"))).toEqual({
      node: "node-b",
      unschedulable: true,
      changed: true,
    });
    expect(sinceMark().find((r) => r.method === "PATCH")).toMatchObject({
      path: "/api/v1/nodes/node-b",
      contentType: "application/strategic-merge-patch+json",
      body: { spec: { unschedulable: true } },
    });
    const before = fake.requests.length;
    expect(await handlers.cordon_node({ name: "node-b", cordon: true }, ctx("ops"))).toEqual({
      node: "node-b",
      unschedulable: true,
      changed: false,
    });
    expect(fake.requests.slice(before).map((r) => r.method)).toEqual(["GET"]);
    expect(await handlers.cordon_node({ name: "node-b", cordon: false }, ctx("ops"))).toMatchObject({
      unschedulable: false,
      changed: true,
    });
  });
});

describe("scoping and errors", () => {
  it("keeps an instance inside its granted namespaces: RBAC answers 403, the skill says PermissionDenied", async () => {
    const error = await failure(handlers.list_pods({ namespace: "kube-system", limit: 10 }, ctx()));
    expect(error.errorClass).toBe("PermissionDenied");
    expect(error.message).toBe(
      `pods is forbidden: User "${sa("assistant")}" cannot list resource "pods" in API group "" in the namespace "kube-system"`,
    );
    const ops = (await handlers.list_pods({ namespace: "kube-system", limit: 10 }, ctx("ops"))) as { count: number };
    expect(ops.count).toBe(1);
  });

  it("an instance without a per-instance identity cannot act at all", async () => {
    const error = await failure(handlers.list_pods({ namespace: "shop", limit: 10 }, ctx("stranger")));
    expect(error.errorClass).toBe("PermissionDenied");
    expect(error.message).toMatch(/cannot impersonate resource "serviceaccounts"/);
  });

  it("maps 404, 409, 422, 429, 500 and 401", async () => {
    const notFound = await failure(handlers.get_deployment({ namespace: "shop", name: "nope" }, ctx()));
    expect([notFound.errorClass, notFound.message]).toEqual(["NotFound", 'deployments.apps "nope" not found']);

    fake.failNext(
      (r) => r.method === "PATCH" && r.path.endsWith("/deployments/web/scale"),
      statusFailure(
        409,
        "Conflict",
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
        { name: "web", group: "apps", kind: "deployments" },
      ),
    );
    const conflict = await failure(handlers.scale_deployment({ namespace: "shop", name: "web", replicas: 1 }, ctx()));
    expect([conflict.errorClass, conflict.retryable]).toEqual(["Conflict", true]);

    fake.failNext(
      (r) => r.method === "PATCH",
      statusFailure(
        422,
        "Invalid",
        'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      ),
    );
    expect(
      (await failure(handlers.scale_deployment({ namespace: "shop", name: "web", replicas: 1 }, ctx()))).errorClass,
    ).toBe("ValidationFailed");

    fake.failNext(
      (r) => r.path === "/api/v1/namespaces/shop/services",
      statusFailure(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds: 2 }),
      { "retry-after": "2" },
    );
    const limited = await failure(handlers.list_services({ namespace: "shop", limit: 10 }, ctx()));
    expect([limited.errorClass, limited.retryAfterSeconds]).toEqual(["RateLimited", 2]);

    fake.failNext(
      (r) => r.path === "/api/v1/namespaces/shop/services",
      statusFailure(500, "InternalError", "Internal error occurred: etcdserver: request timed out"),
    );
    expect((await failure(handlers.list_services({ namespace: "shop", limit: 10 }, ctx()))).errorClass).toBe(
      "Unavailable",
    );

    const badToken = createKubernetesHandlers(
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("revoked"), KNCLAW_NAMESPACE: PLATFORM_NS }),
    );
    expect((await failure(badToken.list_pods({ namespace: "shop", limit: 10 }, ctx()))).errorClass).toBe("AuthExpired");
  });

  it("an unreachable API server is Unavailable", async () => {
    const down = await startFakeKubernetes();
    const kubeconfig = down.kubeconfig("t");
    await down.close();
    const offline = createKubernetesHandlers(
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: kubeconfig, KNCLAW_NAMESPACE: PLATFORM_NS }),
    );
    const error = await failure(offline.list_pods({ namespace: "shop", limit: 10 }, ctx()));
    expect(error.errorClass).toBe("Unavailable");
  });

  it("a cancelled call is a Timeout", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(
      handlers.list_pods(
        { namespace: "shop", limit: 10 },
        toolContext({ instance: "assistant", signal: controller.signal }),
      ),
    );
    expect(error.errorClass).toBe("Timeout");
  });

  it("never reads Secrets or ConfigMaps: no tool asks, and the manifest grants neither", async () => {
    expect(fake.requests.length).toBeGreaterThan(20);
    expect(fake.requests.some((r) => /\/(secrets|configmaps)(\/|$)/.test(r.path))).toBe(false);
    const resources = [...manifest.kubernetes!.rules!, ...manifest.kubernetes!.clusterRules!].flatMap(
      (rule) => rule.resources,
    );
    expect(resources.some((r) => r.startsWith("secrets") || r.startsWith("configmaps"))).toBe(false);
    expect(tools.map((t) => t.name).some((name) => /secret|configmap/.test(name))).toBe(false);
  });

  it("requires the platform namespace to impersonate, and refuses unknown modes", () => {
    expect(() => kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("t") })).toThrow(/KNCLAW_NAMESPACE/);
    expect(() =>
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("t"), K8S_IMPERSONATION: "root" }),
    ).toThrow();
    expect(() => kubernetesOptionsFromEnv({ KNCLAW_NAMESPACE: PLATFORM_NS })).toThrow(/no Kubernetes API/);
    expect(() =>
      kubernetesOptionsFromEnv({ KUBECONFIG: "/nonexistent/knclaw/kubeconfig", KNCLAW_NAMESPACE: PLATFORM_NS }),
    ).toThrow("KUBECONFIG names /nonexistent/knclaw/kubeconfig, which cannot be read (ENOENT)");
  });

  it("a kubeconfig that does not parse starts, and each call answers a clear non-retryable tool error", async () => {
    // Parsing needs the client library, which is loaded on the first call: the error comes from that call.
    const broken = "users:\n  - name: u\n    user:\n      token: s3cr3t-token\n   bad: indent\n";
    const misconfigured = createKubernetesHandlers(
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: broken, KNCLAW_NAMESPACE: PLATFORM_NS }),
    );
    for (let call = 0; call < 2; call++) {
      const error = await failure(misconfigured.list_pods({ namespace: "shop", limit: 10 }, ctx()));
      expect([error.errorClass, error.retryable]).toEqual(["Unavailable", false]);
      expect(error.message).toMatch(/KNCLAW_KUBECONFIG cannot be used: it is not valid YAML \(.+ at line 5/);
      expect(error.message).not.toContain("s3cr3t");
    }

    const noContext = createKubernetesHandlers(
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: "apiVersion: v1\nkind: Config\n", KNCLAW_NAMESPACE: PLATFORM_NS }),
    );
    const error = await failure(noContext.list_pods({ namespace: "shop", limit: 10 }, ctx()));
    expect(error.message).toMatch(/no current context with a cluster and a user/);
  });

  it("acts as its own identity only when told to (developer kubeconfig)", async () => {
    fake.addToken("dev-token", "alice");
    fake.grant({ user: "alice", namespace: "shop", group: "", resources: ["pods"], verbs: ["list"] });
    const dev = createKubernetesHandlers(
      kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: fake.kubeconfig("dev-token"), K8S_IMPERSONATION: "none" }),
    );
    await dev.list_pods({ namespace: "shop", limit: 1 }, ctx());
    expect(sinceMark().at(-1)).toMatchObject({ user: "alice", status: 200 });
    expect(sinceMark().at(-1)!.impersonateUser).toBeUndefined();
  });

  it("reads a kubeconfig file named by KUBECONFIG (the first of a path list)", async () => {
    fake.addToken("file-token", "bob");
    fake.grant({ user: "bob", namespace: "shop", group: "", resources: ["pods"], verbs: ["list"] });
    const dir = await mkdtemp(join(tmpdir(), "knclaw-kubeconfig-"));
    try {
      const file = join(dir, "config");
      await writeFile(file, fake.kubeconfig("file-token"), { mode: 0o600 });
      const fromFile = createKubernetesHandlers(
        kubernetesOptionsFromEnv({ KUBECONFIG: `${file}:${join(dir, "ignored")}`, K8S_IMPERSONATION: "none" }),
      );
      await fromFile.list_pods({ namespace: "shop", limit: 1 }, ctx());
      expect(sinceMark().at(-1)).toMatchObject({ user: "bob", status: 200 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
