/**
 * Egress is denied by default, per function: each function's pods (selected by Knative's
 * `serving.knative.dev/service` label) may reach cluster DNS, the broker ingress when they produce events, Knative's
 * data plane (cluster-local gateway and activator) when they call the memory service or another ksvc, the API server
 * when they call it or (with `oidc.enabled`) read the token issuer's keys there, and what the config declares. Host names cannot be expressed in a NetworkPolicy: they become public-internet rules (private
 * ranges excluded) on the declared ports, and the policy's `knclaw.dev/egress-hosts` annotation keeps the names for
 * an FQDN-aware enforcer. Ingress is left to Knative's networking (activator, gateways); cluster-local visibility
 * keeps internal functions off the public ingress.
 */

import { ANNOTATION_EGRESS_HOSTS, KNATIVE_SERVICE_POD_LABEL } from "../../runtime/names.ts";
import type { FunctionSpec } from "../config/functions.ts";
import type { EgressRule } from "../config/primitives.ts";
import { CHANNEL_REQUIREMENTS } from "../config/sections/channels.ts";
import { PROVIDERS } from "../config/sections/instances.ts";
import { baseLabels, findFunction, functionLabels, metadata, type RenderContext } from "./context.ts";
import { deliveryAuthEgress } from "./delivery-auth.ts";
import type { RenderedObject } from "./types.ts";

const PRIVATE_V4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "127.0.0.0/8"];
const PRIVATE_V6 = ["fc00::/7", "fe80::/10", "::1/128"];

type Peer = Record<string, unknown>;
type EgressEntry = { to?: Peer[]; ports?: { port: number; protocol: string }[] };

function nsSelector(namespace: string): Peer {
  return namespace === "*"
    ? { namespaceSelector: {} }
    : { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } };
}

function ports(list: readonly number[], protocol = "TCP"): { port: number; protocol: string }[] {
  return [...new Set(list)].sort((a, b) => a - b).map((port) => ({ port, protocol }));
}

/** Hosts a function talks to because of what it is (model provider, chat platform API). */
function implicitEgress(ctx: RenderContext, fn: FunctionSpec): EgressRule[] {
  const out: EgressRule[] = [];
  if (fn.instance !== undefined) {
    const instance = ctx.config.instances[fn.instance]!;
    const provider = PROVIDERS[instance.model.split("/")[0]!];
    if (instance.provider.baseUrl !== undefined) {
      out.push(urlEgress(new URL(instance.provider.baseUrl)));
    } else if (provider?.host !== undefined) {
      out.push({ host: provider.host, ports: [443], protocol: "TCP" });
    }
  }
  if (fn.channel !== undefined) {
    for (const host of CHANNEL_REQUIREMENTS[fn.channel].egressHosts) out.push({ host, ports: [443], protocol: "TCP" });
  }
  return out;
}

/** Every function exports to the `telemetry` section's collector: where it says it runs, else where its URL points. */
function collectorEgress(ctx: RenderContext): EgressRule[] {
  const telemetry = ctx.config.telemetry;
  if (telemetry === undefined) return [];
  if (telemetry.collector !== undefined) return [telemetry.collector];
  const url = new URL(telemetry.endpoint);
  const inCluster = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.|$)/.exec(url.hostname);
  if (inCluster) return [{ namespace: inCluster[1]!, ports: [urlPort(url)], protocol: "TCP" }];
  return [urlEgress(url)];
}

/** Egress to where a URL points: an IP address's /32, any other host by name, on the URL's port. */
function urlEgress(url: URL): EgressRule {
  const ports = [urlPort(url)];
  if (/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname)) return { cidr: `${url.hostname}/32`, ports, protocol: "TCP" };
  return { host: url.hostname, ports, protocol: "TCP" };
}

function urlPort(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

function ruleEntries(rule: EgressRule): EgressEntry[] {
  const p = ports(rule.ports, rule.protocol);
  if (rule.namespace !== undefined) {
    const peer: Peer = { ...nsSelector(rule.namespace) };
    if (rule.podLabels !== undefined) peer.podSelector = { matchLabels: { ...rule.podLabels } };
    return [{ to: [peer], ports: p }];
  }
  if (rule.cidr !== undefined) return [{ to: [{ ipBlock: { cidr: rule.cidr } }], ports: p }];
  return [
    {
      to: [
        { ipBlock: { cidr: "0.0.0.0/0", except: [...PRIVATE_V4] } },
        { ipBlock: { cidr: "::/0", except: [...PRIVATE_V6] } },
      ],
      ports: p,
    },
  ];
}

/**
 * The pods that receive events for the Broker's class: the MT channel-based broker's ingress, or the Kafka broker's
 * receiver; for another class, any pod of the eventing namespace.
 */
function brokerIngressPods(brokerClass: string): Peer {
  if (brokerClass === "MTChannelBasedBroker") {
    return { podSelector: { matchLabels: { "eventing.knative.dev/brokerRole": "ingress" } } };
  }
  if (brokerClass === "Kafka") return { podSelector: { matchLabels: { app: "kafka-broker-receiver" } } };
  return {};
}

export function renderNetworkPolicy(ctx: RenderContext, fn: FunctionSpec): RenderedObject {
  const network = ctx.config.network;
  const egress: EgressEntry[] = [
    {
      to: [{ ...nsSelector(network.dns.namespace), podSelector: { matchLabels: { ...network.dns.podLabels } } }],
      ports: [...ports([53], "UDP"), ...ports([53], "TCP")],
    },
  ];
  if (fn.producer) {
    egress.push({
      to: [{ ...nsSelector(network.eventingNamespace), ...brokerIngressPods(ctx.config.broker.class) }],
      ports: ports([8080, 8443]),
    });
  }
  const callsServices =
    fn.memoryClient || (fn.component === "gateway" && findFunction(ctx, "deadletter") !== undefined);
  if (callsServices) {
    // ksvc URLs resolve to the cluster-local gateway, or to the activator while the target is scaled to zero.
    egress.push({ to: [nsSelector(network.ingressNamespace), nsSelector(network.servingNamespace)] });
  }
  const deliveryAuth = deliveryAuthEgress(ctx, fn);
  if (fn.kubeApi || deliveryAuth.apiServer) {
    const api = network.apiServer;
    egress.push(
      api !== undefined
        ? { to: [{ ipBlock: { cidr: api.cidr } }], ports: ports(api.ports) }
        : { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: ports([443, 6443]) },
    );
  }
  const declared = [
    ...implicitEgress(ctx, fn),
    ...collectorEgress(ctx),
    ...(deliveryAuth.host === undefined ? [] : [urlEgress(deliveryAuth.host)]),
    ...fn.egress,
    ...network.egress,
  ];
  const hosts = new Set<string>();
  for (const rule of declared) {
    if (rule.host !== undefined) hosts.add(rule.host);
    egress.push(...ruleEntries(rule));
  }
  const annotations = hosts.size > 0 ? { [ANNOTATION_EGRESS_HOSTS]: [...hosts].sort().join(",") } : undefined;
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: metadata(ctx, `${fn.name}-egress`, functionLabels(ctx, fn), annotations),
    spec: {
      podSelector: { matchLabels: { [KNATIVE_SERVICE_POD_LABEL]: fn.name } },
      policyTypes: ["Egress"],
      egress,
    },
  };
}

/** Denies egress to every pod of the namespace no function policy covers (only when knclaw owns the namespace). */
export function renderDefaultDeny(ctx: RenderContext): RenderedObject[] {
  if (!ctx.config.network.egressPolicies || !ctx.config.metadata.createNamespace) return [];
  const name = "knclaw-default-deny-egress";
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: metadata(ctx, name, baseLabels(ctx, name)),
      // No `egress` field denies all egress (policyTypes says Egress is governed); an empty list would mean the
      // same, but the API server drops it, so every apply would see a difference that never settles.
      spec: { podSelector: {}, policyTypes: ["Egress"] },
    },
  ];
}
