import { accessSync, constants } from "node:fs";
import type { AppsV1Api, Cluster, CoreV1Api, KubeConfig, User } from "@kubernetes/client-node";
import type { FunctionEnv } from "../../runtime/function.ts";
import { instanceServiceAccountName, serviceAccountUser } from "../package/identity.ts";
import { skillEnv } from "../runtime/env.ts";
import { ToolFailure } from "../runtime/tool-error.ts";
import { type ClientNode, loadClientNode } from "./client-node.ts";

/** The API clients one call uses, already acting as the calling instance's identity. */
export interface KubeClients {
  core: CoreV1Api;
  apps: AppsV1Api;
  /** Who the API server sees, for error messages (`system:serviceaccount:ns:name`). */
  actingAs: string;
}

export interface KubeAccess {
  /**
   * Loads the client library and reads the connection on the first call. A connection that cannot be used (a
   * kubeconfig that does not parse, has no current context, a KUBECONFIG file that cannot be read) rejects with a
   * non-retryable Unavailable ToolFailure, every call until it is fixed.
   */
  forInstance(instance: string): Promise<KubeClients>;
}

/** Where the skill's own connection comes from (inline YAML, a KUBECONFIG path, the pod), and what it holds. */
export type KubeSource =
  | { from: "inline"; yaml: string }
  | { from: "KUBECONFIG"; path: string }
  | { from: "in-cluster"; cluster: Cluster; user: User };

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The skill's own connection: a kubeconfig when one is given (`KNCLAW_KUBECONFIG` inline YAML, or a `KUBECONFIG`
 * path — for `knclaw dev` against a real cluster, and for tests), otherwise the in-cluster ServiceAccount. Read from
 * the function's env, not process.env, so several skills can run side by side in one process.
 *
 * Only the presence of a source (and that a KUBECONFIG file can be read) is checked here, at start, so a function
 * deployed with none still fails at once.
 * Parsing the kubeconfig needs the client library, which is loaded on the first call (client-node.ts): a kubeconfig
 * that does not parse, or has no current cluster and user, is reported by that call as a tool error instead.
 */
export function kubeSourceFromEnv(env: FunctionEnv): KubeSource {
  const inline = skillEnv.read(env, "kubeconfig");
  if (inline !== undefined) return { from: "inline", yaml: inline };
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG.trim() !== "") {
    const path = env.KUBECONFIG.split(":")[0]!;
    // Parsing waits for the library, but a wrong path, the commonest mistake, costs one syscall to catch at start.
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      throw new Error(`KUBECONFIG names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code})`);
    }
    return { from: "KUBECONFIG", path };
  }
  if (env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_PORT !== undefined) {
    const host = env.KUBERNETES_SERVICE_HOST.includes(":")
      ? `[${env.KUBERNETES_SERVICE_HOST}]`
      : env.KUBERNETES_SERVICE_HOST;
    // Same shape as KubeConfig.loadFromCluster, which reads process.env itself: the token file is re-read by the
    // tokenFile provider, so projected (rotating) ServiceAccount tokens keep working.
    return {
      from: "in-cluster",
      cluster: {
        name: "inCluster",
        server: `https://${host}:${env.KUBERNETES_SERVICE_PORT}`,
        caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
        skipTLSVerify: false,
      },
      user: {
        name: "inClusterUser",
        authProvider: { name: "tokenFile", config: { tokenFile: `${SERVICE_ACCOUNT_DIR}/token` } },
      },
    };
  }
  throw new Error(
    `no Kubernetes API: set KUBERNETES_SERVICE_HOST (in a pod), KUBECONFIG or ${skillEnv.names.kubeconfig}`,
  );
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

interface Connection {
  lib: ClientNode;
  cluster: Cluster;
  user: User;
}

export function createKubeAccess(source: KubeSource, options: KubeAccessOptions): KubeAccess {
  // Only a usable connection is kept: a kubeconfig file fixed in place is picked up by the next call.
  let connection: Promise<Connection> | undefined;
  const cache = new Map<string, KubeClients>();
  const connect = () => {
    connection ??= loadClientNode()
      .then((lib) => ({ lib, ...currentClusterAndUser(lib, source) }))
      .catch((error: unknown) => {
        connection = undefined;
        throw error;
      });
    return connection;
  };
  return {
    async forInstance(instance) {
      const cached = cache.get(instance);
      if (cached) return cached;
      const { lib, cluster, user } = await connect();
      const clients =
        options.impersonation === "none"
          ? clientsFor(lib, cluster, user, user.name)
          : impersonating(
              lib,
              cluster,
              user,
              serviceAccountUser(options.namespace, instanceServiceAccountName(options.skill, instance)),
            );
      cache.set(instance, clients);
      return clients;
    },
  };
}

function currentClusterAndUser(lib: ClientNode, source: KubeSource): { cluster: Cluster; user: User } {
  const kc = new lib.KubeConfig();
  try {
    if (source.from === "inline") kc.loadFromString(source.yaml);
    else if (source.from === "KUBECONFIG") kc.loadFromFile(source.path);
    else kc.loadFromClusterAndUser(source.cluster, source.user);
  } catch (error) {
    throw misconfigured(source, describeLoadError(error));
  }
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user) throw misconfigured(source, "it has no current context with a cluster and a user");
  return { cluster, user };
}

function misconfigured(source: KubeSource, reason: string): ToolFailure {
  const what =
    source.from === "KUBECONFIG"
      ? `the kubeconfig file ${source.path} (KUBECONFIG)`
      : source.from === "inline"
        ? skillEnv.names.kubeconfig
        : source.from;
  return new ToolFailure(
    "Unavailable",
    `the skill's own Kubernetes connection is misconfigured: ${what} cannot be used: ${reason}. The operator must fix the skill's configuration; retrying will not help.`,
    { retryable: false },
  );
}

/**
 * Why a kubeconfig did not load, without its content: a YAML syntax error's message quotes the offending lines,
 * which may hold a token, so only its reason and position are kept.
 */
function describeLoadError(error: unknown): string {
  if (!(error instanceof Error)) return "it could not be read";
  const yaml = error as Error & { reason?: unknown; mark?: { line?: number; column?: number } };
  if (error.name === "YAMLException") {
    const at =
      yaml.mark?.line === undefined ? "" : ` at line ${yaml.mark.line + 1}, column ${(yaml.mark.column ?? 0) + 1}`;
    return `it is not valid YAML (${typeof yaml.reason === "string" ? yaml.reason : "syntax error"}${at})`;
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === "string") return `it cannot be read (${code})`;
  // A document that parses but is not a kubeconfig mapping (a scalar, an empty document) fails inside the library.
  if (error instanceof TypeError) return "it is not a kubeconfig (a YAML mapping with clusters, users and contexts)";
  return error.message.slice(0, 200);
}

function impersonating(lib: ClientNode, cluster: Cluster, user: User, actingAs: string): KubeClients {
  return clientsFor(lib, cluster, { ...user, impersonateUser: actingAs }, actingAs);
}

function clientsFor(lib: ClientNode, cluster: Cluster, user: User, actingAs: string): KubeClients {
  const kc: KubeConfig = new lib.KubeConfig();
  kc.loadFromClusterAndUser(cluster, user);
  return { core: kc.makeApiClient(lib.CoreV1Api), apps: kc.makeApiClient(lib.AppsV1Api), actingAs };
}
