import { readFile } from "node:fs/promises";
import { sharedHttpClient } from "../http/client.ts";
import { createHttpFetch } from "../http/fetch.ts";

/**
 * How a function reads its issuer's discovery document and keys. On Kubernetes the issuer is the API server, which
 * serves them only to authenticated callers (the `system:service-account-issuer-discovery` ClusterRole, bound to
 * every ServiceAccount): Knative's verifier reads them with the pod's own credentials when its discovery URL is
 * https://kubernetes.default.svc (pkg/auth/verifier.go, getHTTPClientForKubeAPIServer), and so does this fetch: the
 * pod's ServiceAccount token and the cluster's CA, for the API server only (`kubernetes.default.svc`, with or
 * without the cluster domain, or `$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, over https). No other host
 * ever sees the token; every other URL is fetched plainly.
 */
export interface KeyFetchOptions {
  /** The pod's ServiceAccount token (re-read at every fetch: the kubelet rotates it). */
  tokenFile: string;
  /** The cluster's CA bundle, for the API server's certificate. */
  caFile: string;
  /** KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT as the kubelet sets them. */
  serviceHost?: string;
  servicePort?: string;
}

const API_SERVER_HOST = /^kubernetes\.default\.svc(\.[a-z0-9.-]+)?$/;

export function keyFetch(options: KeyFetchOptions): typeof fetch {
  const plain = createHttpFetch({ client: sharedHttpClient() });
  const serviceOrigin =
    options.serviceHost === undefined
      ? undefined
      : new URL(`https://${hostForUrl(options.serviceHost)}:${options.servicePort ?? "443"}`).origin;
  const isApiServer = (url: URL) =>
    url.protocol === "https:" && (API_SERVER_HOST.test(url.hostname) || url.origin === serviceOrigin);

  return (async (input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!isApiServer(url)) return plain(input, init);
    const [token, ca] = await Promise.all([readOptional(options.tokenFile), readOptional(options.caFile)]);
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set("authorization", `Bearer ${token.trim()}`);
    // One client per fetch (keys are fetched every few minutes at most): the CA may have been rotated meanwhile.
    const client = createHttpFetch(ca === undefined ? {} : { ca });
    try {
      return await client(url, { ...init, headers });
    } finally {
      await client.close();
    }
  }) as typeof fetch;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
