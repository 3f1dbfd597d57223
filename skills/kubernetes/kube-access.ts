import { AppsV1Api, type Cluster, CoreV1Api, KubeConfig, type User } from "@kubernetes/client-node";
import type { FunctionEnv } from "../../knative/serving/function.ts";
import { instanceServiceAccountName, serviceAccountUser } from "../package/identity.ts";

/** The API clients one call uses, already acting as the calling instance's identity. */
export interface KubeClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  /** Who the API server sees, for error messages (`system:serviceaccount:ns:name`). */
  actingAs: string;
}

export interface KubeAccess {
  forInstance(instance: string): KubeClients;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The skill's own connection: a kubeconfig when one is given (`KNCLAW_KUBECONFIG` inline YAML, or a `KUBECONFIG`
 * path — for `knclaw dev` against a real cluster, and for tests), otherwise the in-cluster ServiceAccount. Read from
 * the function's env, not process.env, so several skills can run side by side in one process.
 */
export function kubeConfigFromEnv(env: FunctionEnv): KubeConfig {
  const kc = new KubeConfig();
  if (env.KNCLAW_KUBECONFIG !== undefined && env.KNCLAW_KUBECONFIG.trim() !== "") {
    kc.loadFromString(env.KNCLAW_KUBECONFIG);
  } else if (env.KUBECONFIG !== undefined && env.KUBECONFIG.trim() !== "") {
    kc.loadFromFile(env.KUBECONFIG.split(":")[0]!);
  } else if (env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_PORT !== undefined) {
    const host = env.KUBERNETES_SERVICE_HOST.includes(":")
      ? `[${env.KUBERNETES_SERVICE_HOST}]`
      : env.KUBERNETES_SERVICE_HOST;
    // Same shape as KubeConfig.loadFromCluster, which reads process.env itself: the token file is re-read by the
    // tokenFile provider, so projected (rotating) ServiceAccount tokens keep working.
    kc.loadFromClusterAndUser(
      {
        name: "inCluster",
        server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}`,
        caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
        skipTLSVerify: false,
      },
      {
        name: "inClusterUser",
        authProvider: { name: "tokenFile", config: { tokenFile: `${SERVICE_ACCOUNT_DIR}/token` } },
      },
    );
  } else {
    throw new Error("no Kubernetes API: set KUBERNETES_SERVICE_HOST (in a pod), KUBECONFIG or KNCLAW_KUBECONFIG");
  }
  return kc;
}

export interface KubeAccessOptions {
  /**
   * `instance`: impersonate `system:serviceaccount:<namespace>:skill-<skill>-<instance>` for each call (what the
   * renderer sets up). `none`: act as the skill's own identity — only for `knclaw dev` with a personal kubeconfig;
   * on a cluster the skill's own ServiceAccount holds nothing but the right to impersonate.
   */
  impersonation: "instance" | "none";
  /** Namespace of the per-instance ServiceAccounts (the platform namespace). */
  namespace: string;
  skill: string;
}

export function createKubeAccess(base: KubeConfig, options: KubeAccessOptions): KubeAccess {
  const cluster = base.getCurrentCluster();
  const user = base.getCurrentUser();
  if (!cluster || !user) throw new Error("the kubeconfig has no current cluster and user");
  const cache = new Map<string, KubeClients>();
  return {
    forInstance(instance) {
      const cached = cache.get(instance);
      if (cached) return cached;
      const clients =
        options.impersonation === "none"
          ? clientsFor(cluster, user, user.name)
          : impersonating(
              cluster,
              user,
              serviceAccountUser(options.namespace, instanceServiceAccountName(options.skill, instance)),
            );
      cache.set(instance, clients);
      return clients;
    },
  };
}

function impersonating(cluster: Cluster, user: User, actingAs: string): KubeClients {
  return clientsFor(cluster, { ...user, impersonateUser: actingAs }, actingAs);
}

function clientsFor(cluster: Cluster, user: User, actingAs: string): KubeClients {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(cluster, user);
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), actingAs };
}
