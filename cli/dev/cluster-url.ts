import { BROKER_INGRESS_HOST } from "../../eventing/broker/destination.ts";
import type { ServiceMap } from "./service-map.ts";

/**
 * Reading the cluster addresses Destinations resolve to (`http://<svc>.<ns>.svc.cluster.local`, the broker ingress),
 * so the dev runtime can route them to what runs locally. Any cluster domain is accepted (`svc.<domain>`).
 */
export type ClusterTarget =
  | { kind: "broker-ingress"; path: string }
  | { kind: "service"; name: string; namespace: string; path: string }
  | { kind: "external" };

const SERVICE_HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?$/;
const INGRESS_HOST = /^broker-ingress\.knative-eventing\.svc(\.[a-z0-9.-]+)?$/;

export function classifyUrl(url: URL): ClusterTarget {
  const host = url.hostname;
  const path = `${url.pathname}${url.search}`;
  if (host === BROKER_INGRESS_HOST || INGRESS_HOST.test(host)) return { kind: "broker-ingress", path };
  const match = SERVICE_HOST.exec(host);
  if (match) return { kind: "service", name: match[1]!, namespace: match[3]!, path };
  return { kind: "external" };
}

/**
 * Cluster URLs in env values -> where the target answers: on the dev port (mounted ksvcs and the broker ingress), or
 * at a Service's `--service` URL.
 */
export function clusterUrlRewriter(
  devUrl: string,
  mounted: ReadonlySet<string>,
  services?: ServiceMap,
): (value: string) => string {
  const pattern = /https?:\/\/[a-z0-9.-]+\.svc(?:\.[a-z0-9.-]+)?(?::\d+)?(?=[/"',\s]|$)/g;
  return (value) =>
    value.replace(pattern, (match) => {
      const target = classifyUrl(new URL(match));
      if (target.kind === "broker-ingress") return devUrl;
      if (target.kind === "service" && mounted.has(`${target.namespace}/${target.name}`)) {
        return `${devUrl}/functions/${target.name}`;
      }
      const mapped = target.kind === "service" ? services?.lookup(target.namespace, target.name) : undefined;
      return mapped ?? match;
    });
}
