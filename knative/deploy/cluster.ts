/**
 * The connection `knclaw deploy`, `status` and `delete` use: a kubeconfig (the `--kubeconfig` file, else $KUBECONFIG,
 * else ~/.kube/config, else the in-cluster ServiceAccount, as kubectl finds it), optionally another context, and
 * @kubernetes/client-node's KubernetesObjectApi, which maps any apiVersion/kind to its resource by discovery.
 */
import { ApiException, KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

export interface Cluster {
  api: KubernetesObjectApi;
  /** The API server's address, for messages (never the credentials). */
  server: string;
}

export function connectCluster(options: ClusterOptions = {}): Cluster {
  const kc = new KubeConfig();
  if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context !== undefined) kc.setCurrentContext(options.context);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("the kubeconfig has no current cluster: pass --kubeconfig or --context");
  return { api: KubernetesObjectApi.makeApiClient(kc), server: cluster.server };
}

/** The HTTP status of an API error, if it is one. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** What the API server said (its Status message), without the response headers or the request. */
export function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    let body: unknown = error.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch {
        return `${error.code}: ${(body as string).slice(0, 500)}`;
      }
    }
    const message = (body as { message?: unknown } | undefined)?.message;
    return `${error.code}: ${typeof message === "string" ? message : "no message"}`;
  }
  return error instanceof Error ? error.message : String(error);
}
