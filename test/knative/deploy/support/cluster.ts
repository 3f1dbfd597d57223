/**
 * The cluster the deploy integration tests run against: the one whose kubeconfig KNCLAW_TEST_KUBECONFIG names (CI
 * starts a real kube-apiserver with the Knative CRDs and sets it; locally, start one the same way). Without it the
 * tests fail, saying so: a missing cluster must never look like a pass.
 *
 * The API server runs no controllers, so the tests play Knative's part: they set status conditions through the status
 * subresource. Namespaces never finish terminating there, so every test deploys into namespaces of its own.
 */
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { beforeAll, beforeEach } from "vitest";
import { stringify } from "yaml";
import { type Cluster, connectCluster } from "../../../../knative/deploy/index.ts";

const KUBECONFIG_ENV = "KNCLAW_TEST_KUBECONFIG";

export function kubeconfigPath(): string {
  const path = process.env[KUBECONFIG_ENV];
  if (!path) {
    throw new Error(
      `${KUBECONFIG_ENV} is not set: these tests need a Kubernetes API server with the Knative CRDs (.ci/run starts a kube-apiserver with them; locally, point ${KUBECONFIG_ENV} at the kubeconfig of any such server)`,
    );
  }
  return path;
}

export interface TestCluster extends Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

function testCluster(): TestCluster {
  const path = kubeconfigPath();
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return {
    ...connectCluster({ kubeconfig: path }),
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}

/**
 * Hooks that give a suite its cluster: each test fails with the reason when there is none (a beforeAll that threw
 * would only mark them skipped). `setup` runs once, with the cluster, when there is one.
 */
export function useTestCluster(setup?: (cluster: TestCluster) => Promise<void>): () => TestCluster {
  let cluster: TestCluster | undefined;
  let missing: unknown;
  beforeAll(async () => {
    try {
      cluster = testCluster();
    } catch (error) {
      missing = error;
      return;
    }
    await setup?.(cluster);
  });
  beforeEach(() => {
    if (missing !== undefined) throw missing;
  });
  return () => cluster!;
}

/** A namespace name no earlier test (or run against the same server) used. */
export function freshName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function createNamespace(cluster: TestCluster, name: string): Promise<void> {
  await cluster.core.createNamespace({ body: { metadata: { name } } });
}

const PLURALS: Record<string, string> = { Service: "services", Broker: "brokers", Trigger: "triggers" };

/**
 * Set a Knative object's status as its controller would: the Ready condition for the current generation, plus
 * whatever else (a URL, a revision).
 */
export async function setStatus(
  cluster: TestCluster,
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
  ready: { status: "True" | "False" | "Unknown"; reason?: string; message?: string },
  extra: Record<string, unknown> = {},
): Promise<void> {
  const [group, version] = object.apiVersion.split("/") as [string, string];
  const plural = PLURALS[object.kind]!;
  const namespace = object.metadata.namespace!;
  const live = (await cluster.custom.getNamespacedCustomObject({
    group,
    version,
    namespace,
    plural,
    name: object.metadata.name,
  })) as { metadata: { generation: number } };
  const condition = { type: "Ready", lastTransitionTime: new Date().toISOString(), ...ready };
  await cluster.custom.patchNamespacedCustomObjectStatus({
    group,
    version,
    namespace,
    plural,
    name: object.metadata.name,
    // JSON Patch, the client's default patch format: `add` sets /status whether or not it exists.
    body: [
      {
        op: "add",
        path: "/status",
        value: { observedGeneration: live.metadata.generation, conditions: [condition], ...extra },
      },
    ],
  });
}

/** A kubeconfig for the same server that authenticates with `token` (a ServiceAccount's, from TokenRequest). */
export function kubeconfigWithToken(cluster: TestCluster, token: string): string {
  const server = cluster.kc.getCurrentCluster()!;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "test",
        cluster: {
          server: server.server,
          ...(server.caData ? { "certificate-authority-data": server.caData } : {}),
          ...(server.caFile ? { "certificate-authority": server.caFile } : {}),
          ...(server.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
        },
      },
    ],
    users: [{ name: "sa", user: { token } }],
    contexts: [{ name: "sa", context: { cluster: "test", user: "sa" } }],
    "current-context": "sa",
  });
}
