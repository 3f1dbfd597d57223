import { describe, expect, it } from "vitest";
import { runDeploy } from "../../../cli/deploy/run.ts";
import { kubernetesOptionsFromEnv } from "../../../skills/kubernetes/definition.ts";
import { createKubernetesHandlers } from "../../../skills/kubernetes/handlers.ts";
import { ToolFailure } from "../../../skills/runtime/tool-error.ts";
import { toolContext } from "../../skills/support/context.ts";
import {
  createNamespace,
  freshName,
  kubeconfigWithToken,
  type TestCluster,
  useTestCluster,
} from "./support/cluster.ts";
import { allFunctionsConfig, configFile } from "./support/configs.ts";

/**
 * The kubernetes skill's handlers on a real API server under the RBAC `knclaw deploy` applied: the skill connects as
 * its own ServiceAccount (a TokenRequest token, as its pod would have) and impersonates the calling instance's
 * ServiceAccount. What the manifest grants in the granted namespace works; everything else is the server's own 403.
 */
let cluster: TestCluster;
let platformNs: string;
let shop: string;
let elsewhere: string;
let handlers: ReturnType<typeof createKubernetesHandlers>;
let ownIdentity: ReturnType<typeof createKubernetesHandlers>;
const ctx = (instance = "assistant") => toolContext({ instance, skill: "kubernetes" });

async function failure(promise: Promise<unknown>): Promise<ToolFailure> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ToolFailure);
  return error as ToolFailure;
}

const pod = (name: string) => ({
  metadata: { name, labels: { app: "web" } },
  spec: { containers: [{ name: "app", image: `registry.example.com/web@sha256:${"a".repeat(64)}` }] },
});

useTestCluster(async (connected) => {
  cluster = connected;
  platformNs = freshName("kskill");
  shop = freshName("shop");
  elsewhere = freshName("elsewhere");
  for (const namespace of [shop, elsewhere]) await createNamespace(cluster, namespace);
  const config = allFunctionsConfig();
  (config.skills as Record<string, unknown>).kubernetes = { grants: { assistant: { namespaces: [shop] } } };
  await runDeploy({ config: configFile(config, platformNs), cluster, wait: false, out: () => {}, progress: () => {} });

  await cluster.core.createNamespacedPod({ namespace: shop, body: pod("web-1") });
  await cluster.core.createNamespacedPod({ namespace: elsewhere, body: pod("other-1") });
  await cluster.api.create({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: shop },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: pod("web"),
    },
  });
  // The token the skill's pod would have: its own ServiceAccount, which may only impersonate.
  const token = await cluster.core.createNamespacedServiceAccountToken({
    name: "skill-kubernetes",
    namespace: platformNs,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = kubeconfigWithToken(cluster, token.status?.token ?? "");
  handlers = createKubernetesHandlers(
    kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: kubeconfig, KNCLAW_NAMESPACE: platformNs }),
  );
  ownIdentity = createKubernetesHandlers(
    kubernetesOptionsFromEnv({ KNCLAW_KUBECONFIG: kubeconfig, K8S_IMPERSONATION: "none" }),
  );
});

describe("the kubernetes skill under the rendered RBAC", () => {
  it("reads what the manifest grants in the granted namespace", async () => {
    const pods = (await handlers.list_pods({ namespace: shop, limit: 100 }, ctx())) as { items: { name: string }[] };
    expect(pods.items.map((p) => p.name)).toEqual(["web-1"]);
    expect(await handlers.get_deployment({ namespace: shop, name: "web" }, ctx())).toMatchObject({ replicas: 1 });
  });

  it("makes the changes the manifest grants there", async () => {
    await handlers.scale_deployment({ namespace: shop, name: "web", replicas: 3 }, ctx());
    const live = (await cluster.api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: shop },
    })) as { spec?: { replicas?: number } };
    expect(live.spec?.replicas).toBe(3);
    await handlers.delete_pod({ namespace: shop, name: "web-1" }, ctx());
  });

  it("gets the server's 403 outside the granted namespace and for cluster resources it was not granted", async () => {
    const outside = await failure(handlers.list_pods({ namespace: elsewhere, limit: 100 }, ctx()));
    expect(outside.errorClass).toBe("PermissionDenied");
    expect(outside.message).toContain(
      `User "system:serviceaccount:${platformNs}:skill-kubernetes-assistant" cannot list resource "pods" in API group "" in the namespace "${elsewhere}"`,
    );
    const scale = await failure(handlers.scale_deployment({ namespace: elsewhere, name: "web", replicas: 0 }, ctx()));
    expect(scale.errorClass).toBe("PermissionDenied");
    const nodes = await failure(handlers.list_nodes({ limit: 10 }, ctx()));
    expect(nodes.errorClass).toBe("PermissionDenied");
    expect(nodes.message).toContain('cannot list resource "nodes"');
  });

  it("cannot act for an instance without a grant, nor as its own identity", async () => {
    const stranger = await failure(handlers.list_pods({ namespace: shop, limit: 100 }, ctx("stranger")));
    expect(stranger.errorClass).toBe("PermissionDenied");
    expect(stranger.message).toContain("cannot impersonate");
    const own = await failure(ownIdentity.list_pods({ namespace: shop, limit: 100 }, ctx()));
    expect(own.errorClass).toBe("PermissionDenied");
    expect(own.message).toContain(`system:serviceaccount:${platformNs}:skill-kubernetes`);
  });
});
